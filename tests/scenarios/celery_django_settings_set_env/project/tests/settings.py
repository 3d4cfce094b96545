"""Settings for the CI job (kept from before config/ existed): sqlite, eager Celery."""

SECRET_KEY = "not-a-secret-ci-key"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "orders",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"
