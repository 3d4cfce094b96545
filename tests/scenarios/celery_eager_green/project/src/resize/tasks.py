from resize.celery_app import app


@app.task
def scale(width: int, height: int, factor: float) -> tuple[int, int]:
    return round(width * factor), round(height * factor)


@app.task
def fit(width: int, height: int, box: int) -> tuple[int, int]:
    factor = box / max(width, height)
    return scale(width, height, factor)
