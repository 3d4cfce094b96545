import dramatiq


@dramatiq.actor
def restock(sku: str, quantity: int) -> None:
    print(f"restocking {quantity} x {sku}")
