"""Settings for the sign-up service: the StubBroker when SIGNUP_TESTING=1, RabbitMQ otherwise."""

import os

SECRET_KEY = "not-a-secret-test-key"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django_dramatiq",
    "signup",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DRAMATIQ_BROKER = {
    "BROKER": (
        "dramatiq.brokers.stub.StubBroker"
        if os.environ.get("SIGNUP_TESTING") == "1"
        else "dramatiq.brokers.rabbitmq.RabbitmqBroker"
    ),
    "OPTIONS": {}
    if os.environ.get("SIGNUP_TESTING") == "1"
    else {"url": "amqp://127.0.0.1:5672?connection_attempts=1"},
    "MIDDLEWARE": ["dramatiq.middleware.AgeLimit", "dramatiq.middleware.Retries"],
}
DRAMATIQ_AUTODISCOVER_MODULES = ["tasks"]
