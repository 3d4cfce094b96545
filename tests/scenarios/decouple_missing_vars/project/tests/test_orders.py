def test_order_confirmation_is_queued(tasks, broker):
    tasks.confirm_order.send(1)
    assert broker.queues["orders"].qsize() == 1


def test_two_orders(tasks, broker):
    tasks.confirm_order.send(2)
    tasks.confirm_order.send(3)
    assert broker.queues["orders"].qsize() == 2
