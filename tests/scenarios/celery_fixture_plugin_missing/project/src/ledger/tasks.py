from decimal import Decimal

from celery import shared_task


@shared_task
def post_entry(account: str, amount: str) -> str:
    return f"{account}: {Decimal(amount):+.2f}"


@shared_task
def balance(amounts: list[str]) -> str:
    return str(sum(Decimal(a) for a in amounts))
