import dramatiq

from ledger.broker import broker


@dramatiq.actor(broker=broker, queue_name="postings")
def post_entry(entry_id: int) -> None:
    print(f"posting {entry_id}")
