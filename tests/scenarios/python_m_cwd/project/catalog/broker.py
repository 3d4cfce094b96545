import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker

try:
    from local_settings import BROKER_URL
except ImportError:
    BROKER_URL = "amqp://127.0.0.1:5672?connection_attempts=1"

if BROKER_URL == "stub://":
    broker = StubBroker()
    broker.emit_after("process_boot")
else:
    broker = RabbitmqBroker(url=BROKER_URL)
dramatiq.set_broker(broker)
