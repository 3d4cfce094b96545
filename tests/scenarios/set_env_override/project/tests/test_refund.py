from payments import tasks
from payments.broker import broker


def test_refund_is_queued():
    tasks.refund.send(11)
    assert broker.queues["refunds"].qsize() == 1
