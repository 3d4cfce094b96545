"""The request handler: validate, then hand the slow work to the workers."""

from signup import tasks


class SignupError(ValueError):
    pass


def register(email: str, plan: str = "free") -> dict[str, str]:
    if "@" not in email:
        raise SignupError(f"not an e-mail address: {email!r}")
    tasks.send_welcome.send(email)
    tasks.record_signup.send(email, plan)
    return {"email": email, "plan": plan, "status": "pending"}
