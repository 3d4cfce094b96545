import dramatiq

from shop import broker as _broker  # noqa: F401 - sets the global broker first


@dramatiq.actor(queue_name="orders")
def confirm_order(order_id: int) -> None:
    print(f"order {order_id} confirmed")
