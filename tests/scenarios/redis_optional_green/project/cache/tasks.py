import dramatiq

from cache import client as _client  # noqa: F401 - the redis client is imported with the tasks


@dramatiq.actor(queue_name="warm")
def warm(key: str) -> None:
    print(f"warm {key}")
