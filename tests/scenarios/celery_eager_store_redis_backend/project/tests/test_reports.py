from celery.result import AsyncResult
from reports import tasks
from reports.celery_app import app


def test_render():
    result = tasks.render.delay(12)
    assert result.get() == "report-12.pdf"


def test_result_is_found_by_id():
    task_id = tasks.render.apply_async((13,), {"fmt": "csv"}).id
    stored = AsyncResult(task_id, app=app)
    assert stored.state == "SUCCESS"
    assert stored.result == "report-13.csv"


def test_row_count():
    assert tasks.row_count.delay([{"a": 1}, {"a": 2}]).get() == 2
