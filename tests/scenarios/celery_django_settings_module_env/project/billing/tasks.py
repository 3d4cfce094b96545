from celery import shared_task


@shared_task
def invoice_total(lines: list[tuple[int, float]]) -> float:
    return round(sum(qty * price for qty, price in lines), 2)


@shared_task(bind=True)
def issue_invoice(self, customer_id: int) -> str:
    return f"invoice {self.request.id[:8]} for customer {customer_id}"
