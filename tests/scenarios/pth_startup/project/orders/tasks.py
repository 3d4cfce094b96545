import dramatiq

from orders import broker as _broker  # noqa: F401 - configures the global broker


@dramatiq.actor(queue_name="fulfilment")
def ship(order_id: int) -> None:
    print(f"shipping {order_id}")
