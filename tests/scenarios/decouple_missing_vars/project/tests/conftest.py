import dramatiq
import pytest
import shop


@pytest.fixture(scope="session")
def tasks():
    return shop.setup()


@pytest.fixture
def broker(tasks):
    broker = dramatiq.get_broker()
    broker.flush_all()
    return broker
