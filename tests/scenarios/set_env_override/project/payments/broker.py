import os

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker

URL = os.environ.get("PAYMENTS_BROKER_URL", "amqp://127.0.0.1:5672?connection_attempts=1")
if URL.startswith("stub://"):
    broker = StubBroker()
    broker.emit_after("process_boot")
else:
    broker = RabbitmqBroker(url=URL)
dramatiq.set_broker(broker)
