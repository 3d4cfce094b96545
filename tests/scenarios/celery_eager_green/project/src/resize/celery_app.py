from celery import Celery

app = Celery("resize")
app.conf.update(
    broker_url="amqp://guest:guest@127.0.0.1:5672//",
    task_default_queue="resize",
)
