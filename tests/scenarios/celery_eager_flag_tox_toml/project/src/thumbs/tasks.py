from thumbs.celery_app import app


@app.task
def thumbnail(name: str, size: int) -> str:
    stem, _, ext = name.rpartition(".")
    return f"{stem}-{size}.{ext}"


@app.task
def sizes(name: str) -> list[str]:
    return [thumbnail(name, size) for size in (64, 128)]
