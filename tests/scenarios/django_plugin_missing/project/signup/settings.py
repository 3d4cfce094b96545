"""Settings for the sign-up service; the test suite always uses dramatiq's StubBroker."""

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
