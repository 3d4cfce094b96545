import dramatiq


@dramatiq.actor(queue_name="greetings")
def greet(name: str) -> None:
    print(f"hello {name}")
