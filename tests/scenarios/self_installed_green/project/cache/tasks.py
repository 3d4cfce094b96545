import dramatiq


@dramatiq.actor(queue_name="warm")
def warm(key: str) -> None:
    print(f"warm {key}")
