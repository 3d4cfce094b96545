from billing import tasks
from billing.broker import broker


def test_invoice_is_queued():
    tasks.send_invoice.send(42)
    assert broker.queues["invoices"].qsize() == 1
