"""The broker the settings name."""

import dramatiq
from django.conf import settings

if settings.DRAMATIQ_BROKER_URL == "stub://":
    from dramatiq.brokers.stub import StubBroker

    broker = StubBroker()
    broker.emit_after("process_boot")
else:
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker = RabbitmqBroker(url=settings.DRAMATIQ_BROKER_URL)

dramatiq.set_broker(broker)
