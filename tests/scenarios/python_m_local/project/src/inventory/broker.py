import os

import dramatiq

if os.getenv("BROKER_BACKEND") == "stub":
    from dramatiq.brokers.stub import StubBroker

    broker = StubBroker()
    broker.emit_after("process_boot")
else:
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker = RabbitmqBroker(url="amqp://127.0.0.1:5672?connection_attempts=1")
dramatiq.set_broker(broker)
