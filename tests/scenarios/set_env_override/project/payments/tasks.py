import dramatiq

from payments.broker import broker


@dramatiq.actor(broker=broker, queue_name="refunds")
def refund(payment_id: int) -> None:
    print(f"refunding {payment_id}")
