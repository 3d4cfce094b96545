import json
import os
from pathlib import Path

_DEFAULTS = Path(__file__).with_name("defaults.json")


def broker_url() -> str:
    if "NOTIFY_BROKER_URL" in os.environ:
        return os.environ["NOTIFY_BROKER_URL"]
    if _DEFAULTS.is_file():
        return json.loads(_DEFAULTS.read_text())["broker_url"]
    return "amqp://127.0.0.1:5672?connection_attempts=1"
