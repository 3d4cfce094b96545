import dramatiq

from billing import broker as _broker  # noqa: F401 - sets the global broker first


@dramatiq.actor(queue_name="invoices")
def send_invoice(invoice_id: int) -> None:
    print(f"invoice {invoice_id}")
