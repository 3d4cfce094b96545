from catalog import tasks
from catalog.broker import broker


def test_reindex_is_queued():
    tasks.reindex.send(3)
    assert broker.queues["index"].qsize() == 1
