from notify.extensions import queue


@queue.actor(queue_name="emails")
def send_welcome(user_id: int) -> None:
    print(f"welcome {user_id}")
