import pytest

try:  # the IDE's test runner puts the repository root on sys.path
    from src.shop import tasks
except ImportError:
    from shop import tasks


@pytest.fixture(autouse=True)
def no_real_broker(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.send_receipt, "send", lambda *args: sent.append(args))
    return sent
