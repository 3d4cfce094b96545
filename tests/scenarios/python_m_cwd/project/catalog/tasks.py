import dramatiq

from catalog.broker import broker


@dramatiq.actor(broker=broker, queue_name="index")
def reindex(product_id: int) -> None:
    print(f"reindexing {product_id}")
