import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

stub = StubBroker()
stub.emit_after("process_boot")
dramatiq.set_broker(stub)


@pytest.fixture
def broker():
    yield stub
    stub.flush_all()
