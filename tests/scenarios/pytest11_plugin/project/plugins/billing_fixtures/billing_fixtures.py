"""Shared fixtures for billing's test suites (loaded by pytest through its pytest11 entry point)."""

import pytest
from billing import tasks  # imported at plugin-load time, before any conftest.py


@pytest.fixture
def charge_actor():
    return tasks.charge
