"""Redis as the broker (docker-compose); the environment may override it."""

from celery import Celery

app = Celery("webhooks", broker="redis://127.0.0.1:6399/0")
app.conf.update(
    task_default_queue="webhooks",
    task_ignore_result=True,  # fire and forget: a delivery reports back through the API
)
