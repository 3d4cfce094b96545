# Meant for the integration tests only, but it runs at collection, before tests/unit is collected.
import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

stub = StubBroker()
stub.emit_after("process_boot")
dramatiq.set_broker(stub)


@pytest.fixture
def worker():
    w = dramatiq.Worker(stub, worker_timeout=100)
    w.start()
    yield w
    w.stop()
