import pytest
from tests.helpers import queued  # needs the project root on sys.path (python -m pytest)


@pytest.fixture
def queue_size():
    return queued
