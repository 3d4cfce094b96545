import dramatiq


@dramatiq.actor(queue_name="render")
def render(name: str) -> None:
    print(f"render {name}")
