from shop.settings import *  # noqa: F403

DRAMATIQ_BROKER_URL = "stub://"
