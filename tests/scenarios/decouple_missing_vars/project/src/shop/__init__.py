"""Like django.setup(): load the settings, configure the broker, import the tasks."""

import importlib
from types import ModuleType

import dramatiq

from shop.conf import settings


def setup() -> ModuleType:
    if settings.DRAMATIQ_BROKER == "stub":
        from dramatiq.brokers.stub import StubBroker

        broker = StubBroker()
        broker.emit_after("process_boot")
    else:
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=settings.DRAMATIQ_BROKER)
    dramatiq.set_broker(broker)
    return importlib.import_module("shop.tasks")  # the apps' tasks modules, as django_dramatiq does
