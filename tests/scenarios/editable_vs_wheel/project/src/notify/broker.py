import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker

from notify.config import broker_url

if broker_url() == "stub://":
    broker = StubBroker()
    broker.emit_after("process_boot")
else:
    broker = RabbitmqBroker(url=broker_url())
dramatiq.set_broker(broker)
