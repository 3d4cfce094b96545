from notify.celery_app import app


@app.task
def send_welcome(user_id: int) -> str:
    return f"welcome mail for user {user_id}"


@app.task
def send_digest(user_id: int, period: str = "weekly") -> str:
    return f"{period} digest for user {user_id}"
