"""The broker is configured on first use (a worker's or a test's), from ALERTS_BROKER."""

import importlib
import os
from types import ModuleType

import dramatiq


def configure() -> ModuleType:
    if os.environ.get("ALERTS_BROKER") == "stub":
        from dramatiq.brokers.stub import StubBroker

        broker = StubBroker()
        broker.emit_after("process_boot")
    else:
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url="amqp://127.0.0.1:5672?connection_attempts=1")
    dramatiq.set_broker(broker)
    return importlib.import_module("alerts.tasks")
