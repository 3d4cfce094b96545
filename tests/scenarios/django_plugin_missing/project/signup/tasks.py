import dramatiq


@dramatiq.actor(queue_name="welcome")
def send_welcome(user_id: int) -> None:
    print(f"welcome {user_id}")
