from shop import tasks


def place_order(order_id: int) -> str:
    tasks.send_receipt.send(order_id)
    return "placed"
