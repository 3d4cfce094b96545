import dramatiq


@dramatiq.actor(queue_name="orders")
def confirm_order(order_id: int) -> None:
    print(f"order {order_id} confirmed")
