from notify import tasks
from notify.broker import broker


def test_push_is_queued():
    tasks.push.send("d-1", "hello")
    assert broker.queues["push"].qsize() == 1
