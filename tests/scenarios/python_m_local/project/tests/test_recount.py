from inventory import tasks
from inventory.broker import broker


def test_recount_is_queued(queue_size):
    tasks.recount.send("sku-1")
    assert queue_size(broker, "stock") == 1
