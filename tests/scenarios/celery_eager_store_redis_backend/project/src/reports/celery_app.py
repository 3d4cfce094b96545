from celery import Celery

app = Celery("reports")
app.conf.update(
    broker_url="redis://127.0.0.1:6399/0",
    result_backend="redis://127.0.0.1:6399/1",
    result_expires=3600,
)
