import dramatiq

from inventory import broker as _broker  # noqa: F401 - sets the global broker first


@dramatiq.actor(queue_name="restock")
def restock(sku: str) -> None:
    print(f"restock {sku}")
