import os

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker

if os.environ.get("REPORTS_BROKER") == "stub":
    broker = StubBroker()
    broker.emit_after("process_boot")
else:
    broker = RabbitmqBroker(url="amqp://127.0.0.1:5672?connection_attempts=1")
dramatiq.set_broker(broker)
