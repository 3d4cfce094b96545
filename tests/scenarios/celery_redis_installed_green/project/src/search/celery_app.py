import os

from celery import Celery

app = Celery(
    "search",
    broker=os.environ.get("SEARCH_BROKER_URL", "memory://"),
    backend=os.environ.get("SEARCH_RESULT_BACKEND", "cache+memory://"),
)
app.conf.task_default_queue = "indexing"
