from celery import Celery

app = Celery("ledger", broker="amqp://guest:guest@127.0.0.1:5672//")
