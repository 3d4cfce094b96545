from reports.celery_app import app


@app.task
def render(report_id: int, fmt: str = "pdf") -> str:
    return f"report-{report_id}.{fmt}"


@app.task
def row_count(rows: list[dict]) -> int:
    return len(rows)
