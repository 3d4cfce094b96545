from inventory import tasks
from inventory.broker import broker


def test_restock_is_queued():
    tasks.restock.send("sku-1")
    assert broker.queues["restock"].qsize() == 1
