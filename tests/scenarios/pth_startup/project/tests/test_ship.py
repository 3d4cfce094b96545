from orders import tasks
from orders.broker import broker


def test_ship_is_queued():
    tasks.ship.send(1)
    assert broker.queues["fulfilment"].qsize() == 1
