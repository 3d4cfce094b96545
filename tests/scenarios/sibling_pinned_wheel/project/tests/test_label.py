from shipping import tasks
from shipping.broker import broker


def test_label_is_queued():
    tasks.print_label.send(3)
    assert broker.queues["labels"].qsize() == 1
