import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

broker = StubBroker()
dramatiq.set_broker(broker)


@pytest.fixture
def stub_broker():
    broker.flush_all()
    return broker
