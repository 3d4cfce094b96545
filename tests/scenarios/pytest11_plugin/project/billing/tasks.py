"""Actors use the global broker: whatever dramatiq.get_broker() returns when this is imported."""

import dramatiq


@dramatiq.actor
def charge(invoice_id: int) -> None:
    print(f"charging {invoice_id}")
