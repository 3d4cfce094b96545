from config import celery_app
from orders.tasks import order_total, send_confirmation


def test_confirmation_is_sent():
    result = send_confirmation.delay(5)
    assert result.get(timeout=5) == "order 5 confirmed"


def test_order_total():
    result = order_total.apply_async(args=([10, 5, 2.5],))
    assert result.successful()
    assert result.get() == 17.5


def test_tasks_use_the_project_app():
    assert send_confirmation.app is celery_app
    assert celery_app.conf.task_always_eager is True
