import pytest

import alerts


@pytest.fixture(scope="session")
def tasks():
    return alerts.configure()
