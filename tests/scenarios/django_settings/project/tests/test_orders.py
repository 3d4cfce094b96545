from shop import tasks
from shop.broker import broker


def test_confirmation_is_queued():
    tasks.confirm_order.send(11)
    assert broker.queues["orders"].qsize() == 1
