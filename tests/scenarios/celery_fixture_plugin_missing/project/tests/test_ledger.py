from ledger import tasks


def test_post_entry():
    result = tasks.post_entry.delay("cash", "12.5")
    assert result.get(timeout=10) == "cash: +12.50"


def test_balance():
    result = tasks.balance.apply_async((["10", "-2.25", "0.25"],))
    assert result.get(timeout=10) == "8.00"


def test_tasks_use_the_test_app(celery_app):
    assert tasks.post_entry.app is celery_app
    assert celery_app.conf.broker_url == "memory://"
