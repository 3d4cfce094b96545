import dramatiq


@dramatiq.actor(queue_name="schedule")
def schedule(name: str) -> None:
    print(f"schedule {name}")
