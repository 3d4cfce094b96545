import dramatiq

from notify.broker import broker


@dramatiq.actor(broker=broker, queue_name="push")
def push(device_id: str, text: str) -> None:
    print(f"push to {device_id}: {text}")
