import pytest
from kombu.transport.memory import Channel
from search import tasks


def test_document_is_queued():
    result = tasks.index_document.delay(1, "hello search world")
    assert result.state == "PENDING"
    assert any(m["headers"]["id"] == result.id for m in Channel.queues["indexing"].queue)


def test_drop_is_routed():
    result = tasks.drop_index.apply_async(("old",), queue="maintenance")
    assert result.state == "PENDING"
    assert Channel.queues["maintenance"].qsize() == 1


@pytest.mark.integration
def test_roundtrip_through_redis():  # needs a worker on the integration env's Redis
    assert tasks.index_document.delay(2, "a b").get(timeout=10) == 2
