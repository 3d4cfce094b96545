import dramatiq
from inventory import tasks


def test_restock_is_queued():
    tasks.restock.send("apple", 3)
    assert dramatiq.get_broker().queues["default"].qsize() == 1
