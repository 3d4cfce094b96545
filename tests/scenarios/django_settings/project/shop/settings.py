SECRET_KEY = "not-a-secret-for-tests"
INSTALLED_APPS = ["shop"]
DATABASES = {}
USE_TZ = True
DRAMATIQ_BROKER_URL = "amqp://127.0.0.1:5672?connection_attempts=1"
