from kombu.transport.memory import Channel
from notify import tasks


def _queued(queue: str) -> int:
    return Channel.queues[queue].qsize() if queue in Channel.queues else 0


def test_welcome_is_queued():
    before = _queued("notify")
    result = tasks.send_welcome.delay(7)
    assert result.state == "PENDING"
    assert _queued("notify") == before + 1


def test_digest_goes_to_its_own_queue():
    result = tasks.send_digest.apply_async((7,), {"period": "daily"}, queue="digests", countdown=60)
    assert result.id
    assert _queued("digests") == 1
