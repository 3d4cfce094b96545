from ledger import tasks
from ledger.broker import broker


def test_posting_is_queued():
    tasks.post_entry.send(9)
    assert broker.queues["postings"].qsize() == 1
