import pytest
from notify import create_app


@pytest.fixture
def app():
    return create_app(TESTING=True)
