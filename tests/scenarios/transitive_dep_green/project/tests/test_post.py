from ledger import tasks


def test_post_is_queued(broker):
    tasks.post.send("ada")
    assert broker.queues["post"].qsize() == 1
