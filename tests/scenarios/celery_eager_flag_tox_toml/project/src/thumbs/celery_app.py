from celery import Celery

app = Celery("thumbs")
app.config_from_object("thumbs.celeryconfig")
