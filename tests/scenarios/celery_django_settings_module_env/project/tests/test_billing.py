from billing import tasks


def test_invoice_total():
    result = tasks.invoice_total.delay([(2, 9.99), (1, 5.0)])
    assert result.get(timeout=5) == 24.98


def test_issue_invoice():
    result = tasks.issue_invoice.apply_async((42,))
    assert result.successful()
    assert result.get().endswith("for customer 42")
