import dramatiq


@dramatiq.actor(queue_name="pages")
def page_oncall(message: str) -> None:
    print(f"paging: {message}")
