import dramatiq

from shop import broker as _broker  # noqa: F401 - configures the global broker


@dramatiq.actor
def send_receipt(order_id: int) -> None:
    print(f"receipt for {order_id}")
