from .celery_app import app


@app.task(name="orders.send_receipt")
def send_receipt(order_id: int, email: str) -> str:
    return f"receipt for order {order_id} sent to {email}"
