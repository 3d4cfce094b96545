"""Celery settings of the thumbnailer (loaded with config_from_object)."""

import os

broker_url = "amqp://guest:guest@127.0.0.1:5672//"
task_default_queue = "thumbs"
task_serializer = "json"
# Tests and local hacking run the tasks in-process: THUMBS_EAGER=1.
task_always_eager = os.environ.get("THUMBS_EAGER") == "1"
task_eager_propagates = True
