import dramatiq

from ingest.limits import FEED_MUTEX


@dramatiq.actor(queue_name="feeds")
def import_feed(url: str) -> str:
    with FEED_MUTEX.acquire():
        return f"imported {url}"
