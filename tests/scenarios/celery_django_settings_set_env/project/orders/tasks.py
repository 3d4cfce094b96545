from celery import shared_task


@shared_task
def send_confirmation(order_id: int) -> str:
    return f"order {order_id} confirmed"


@shared_task
def order_total(prices: list[float]) -> float:
    return round(sum(prices), 2)
