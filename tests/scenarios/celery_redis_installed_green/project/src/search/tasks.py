from search.celery_app import app


@app.task
def index_document(doc_id: int, text: str) -> int:
    return len(text.split())


@app.task
def drop_index(name: str) -> str:
    return f"dropped {name}"
