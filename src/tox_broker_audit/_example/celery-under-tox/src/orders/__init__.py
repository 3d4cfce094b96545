"""Orders service: the API queues a receipt e-mail for every order."""

from .celery_app import app as celery_app

__all__ = ["celery_app"]
