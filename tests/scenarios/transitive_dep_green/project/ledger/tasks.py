import dramatiq


@dramatiq.actor(queue_name="post")
def post(name: str) -> None:
    print(f"post {name}")
