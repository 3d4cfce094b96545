import django
import proj  # noqa: F401 - the Celery app (and its DJANGO_SETTINGS_MODULE default), as manage.py would

django.setup()
