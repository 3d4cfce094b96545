import dramatiq

from shipping import broker as _broker  # noqa: F401 - sets the global broker first


@dramatiq.actor(queue_name="labels")
def print_label(parcel_id: int) -> None:
    print(f"label {parcel_id}")
