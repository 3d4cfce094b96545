from feeds.celery_app import app


@app.task
def fetch(url: str) -> dict:
    return {"url": url, "entries": 3}


@app.task
def slugify(title: str) -> str:
    return "-".join(title.lower().split())
