import pytest

from signup import api


def test_register_queues_the_welcome_mail(stub_broker):
    result = api.register("ada@example.org", plan="pro")
    assert result["status"] == "pending"
    assert stub_broker.queues["emails"].qsize() == 1
    assert stub_broker.queues["audit"].qsize() == 1


def test_register_rejects_bad_addresses(stub_broker):
    with pytest.raises(api.SignupError):
        api.register("not-an-address")
    assert stub_broker.queues["emails"].qsize() == 0
