from resize.celery_app import app

# Celery's testing guide: run the tasks in-process, never against a broker.
app.conf.update(
    broker_url="memory://",
    result_backend="cache+memory://",
    task_always_eager=True,
    task_eager_propagates=True,
)
