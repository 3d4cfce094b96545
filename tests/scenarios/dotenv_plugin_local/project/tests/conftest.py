import alerts
import pytest


@pytest.fixture(scope="session")
def tasks():
    return alerts.configure()
