import dramatiq

from inventory.broker import broker


@dramatiq.actor(broker=broker, queue_name="stock")
def recount(sku: str) -> None:
    print(f"recounting {sku}")
