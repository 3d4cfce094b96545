from celery import Celery

app = Celery("feeds")
# The deployment ships its own celeryconfig.py next to where the worker is started.
app.config_from_object("celeryconfig")
