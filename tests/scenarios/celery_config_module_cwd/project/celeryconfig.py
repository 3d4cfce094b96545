"""Celery settings for running the feed tasks from a checkout (tests, local hacking)."""

broker_url = "memory://"
result_backend = "cache+memory://"
task_always_eager = True
task_eager_propagates = True
