"""The Celery app: RabbitMQ from docker-compose; CELERY_BROKER_URL in the environment wins."""

from celery import Celery

app = Celery("notify")
app.conf.update(
    broker_url="amqp://guest:guest@127.0.0.1:5672//",
    result_backend="cache+memory://",
    task_default_queue="notify",
)
