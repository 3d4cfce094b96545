from cache import tasks


def test_warm_is_queued(stub_broker):
    tasks.warm.send("home")
    assert stub_broker.queues["warm"].qsize() == 1
