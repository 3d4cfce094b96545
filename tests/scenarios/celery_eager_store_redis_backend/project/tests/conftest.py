from reports.celery_app import app

# Run tasks in-process, and keep their results in the backend so that a result can be
# looked up by id, as the web views do.
app.conf.update(
    task_always_eager=True,
    task_eager_propagates=True,
    task_store_eager_result=True,
)
