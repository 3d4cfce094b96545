"""Test settings of the sign-up service (as django_dramatiq keeps them): always the StubBroker."""

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
    "BROKER": "dramatiq.brokers.stub.StubBroker",
    "OPTIONS": {},
    "MIDDLEWARE": ["dramatiq.middleware.AgeLimit", "dramatiq.middleware.Retries"],
}
DRAMATIQ_AUTODISCOVER_MODULES = ["tasks"]
