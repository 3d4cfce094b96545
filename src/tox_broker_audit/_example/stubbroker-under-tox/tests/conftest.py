import dramatiq
import pytest


@pytest.fixture
def stub_broker():
    broker = dramatiq.get_broker()
    yield broker
    broker.flush_all()
