from webhooks.celery_app import app


@app.task(bind=True, max_retries=5)
def deliver(self, url: str, payload: dict) -> int:
    return len(payload)


@app.task
def purge_failed(older_than_days: int = 7) -> int:
    return 0
