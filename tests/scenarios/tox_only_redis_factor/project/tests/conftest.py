# dramatiq's testing guide: the stub broker before any actor is declared
import dramatiq
from dramatiq.brokers.stub import StubBroker

broker = StubBroker()
broker.emit_after("process_boot")
dramatiq.set_broker(broker)
