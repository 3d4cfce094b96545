from kombu.transport.memory import Channel
from webhooks import tasks


def _queued() -> list[dict]:
    queue = Channel.queues.get("webhooks")
    return [] if queue is None else list(queue.queue)


def test_delivery_is_queued():
    result = tasks.deliver.delay("https://example.invalid/hook", {"event": "ping"})
    assert result.id
    assert any(m["headers"]["id"] == result.id for m in _queued())


def test_purge_is_scheduled():
    result = tasks.purge_failed.apply_async(kwargs={"older_than_days": 30}, countdown=3600)
    message = next(m for m in _queued() if m["headers"]["id"] == result.id)
    assert message["headers"]["task"] == "webhooks.tasks.purge_failed"
    assert message["headers"]["eta"] is not None
