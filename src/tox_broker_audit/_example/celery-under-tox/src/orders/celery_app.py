"""The Celery app. Production settings live in ``orders.celeryconfig``; the worker runs next
to RabbitMQ (docker-compose). Developers export ``CELERY_BROKER_URL=memory://`` in their
shell (``.envrc``) so that the unit tests never need a broker: Celery reads that variable
before any setting."""

from celery import Celery

app = Celery("orders")
app.config_from_object("orders.celeryconfig")
