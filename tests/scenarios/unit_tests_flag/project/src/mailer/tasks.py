import dramatiq

from mailer import broker as _broker  # noqa: F401 - sets the global broker first


@dramatiq.actor(queue_name="digests")
def send_digest(user_id: int) -> None:
    print(f"digest for {user_id}")
