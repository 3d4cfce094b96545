"""Settings of proj (production defaults)."""

SECRET_KEY = "not-a-secret-dev-key"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "billing",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "proj.sqlite3"}}

CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
CELERY_TASK_SERIALIZER = "json"
