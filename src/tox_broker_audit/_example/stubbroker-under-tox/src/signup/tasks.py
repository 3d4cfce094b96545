"""Background work: each function is a dramatiq actor bound to the broker of ``signup.broker``."""

import dramatiq

from signup import broker as _broker  # noqa: F401  (sets the global broker before the actors)


@dramatiq.actor(queue_name="emails", max_retries=3)
def send_welcome(email: str) -> None:
    print(f"welcome mail to {email}")


@dramatiq.actor(queue_name="audit")
def record_signup(email: str, plan: str) -> None:
    print(f"signup {email} on {plan}")
