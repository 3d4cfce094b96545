import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker

from ledger import settings

if settings.BROKER == "stub":
    broker = StubBroker()
    broker.emit_after("process_boot")
else:
    broker = RabbitmqBroker(url=settings.AMQP_URL)
dramatiq.set_broker(broker)
