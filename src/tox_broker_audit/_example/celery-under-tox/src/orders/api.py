from .tasks import send_receipt


class OrderError(ValueError):
    pass


def place_order(email: str, items: list) -> dict:
    if "@" not in email:
        raise OrderError(f"not an e-mail address: {email!r}")
    if not items:
        raise OrderError("an order needs at least one item")
    order_id = 1000 + len(items)
    result = send_receipt.delay(order_id, email)
    return {"order": order_id, "status": "placed", "receipt_task": result.id}
