"""The broker, as dramatiq's testing guide suggests: a StubBroker when UNIT_TESTS=1."""

import os

import dramatiq

if os.getenv("UNIT_TESTS") == "1":
    from dramatiq.brokers.stub import StubBroker

    broker = StubBroker()
    broker.emit_after("process_boot")
else:
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker = RabbitmqBroker(url="amqp://127.0.0.1:5672?connection_attempts=1")

dramatiq.set_broker(broker)
