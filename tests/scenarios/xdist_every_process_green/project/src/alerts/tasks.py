import dramatiq


@dramatiq.actor(queue_name="pages")
def page(on_call: str) -> None:
    print(f"paging {on_call}")
