import dramatiq
from dramatiq.brokers.stub import StubBroker

# At import time: the controller and every pytest-xdist worker import this conftest,
# so each process has its StubBroker before any actor is declared.
broker = StubBroker()
broker.emit_after("process_boot")
dramatiq.set_broker(broker)
