from billing import tasks


def test_charge_is_queued(broker):
    tasks.charge.send(42)
    assert broker.queues["default"].qsize() == 1
