"""Base settings of the shop."""

SECRET_KEY = "not-a-secret-dev-key"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "orders",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "shop.sqlite3"}}

# Celery
CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
CELERY_TASK_SERIALIZER = "json"
CELERY_TASK_TIME_LIMIT = 5 * 60
