"""The app factory: the broker is configured when an app is created, not at import."""

from flask import Flask

from notify.extensions import queue


def create_app(**overrides: object) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(
        DRAMATIQ_BROKER_CLASS="RabbitmqBroker",
        DRAMATIQ_BROKER_URL="amqp://127.0.0.1:5672?connection_attempts=1",
    )
    app.config.from_prefixed_env()  # FLASK_DRAMATIQ_BROKER_CLASS=StubBroker in the .envrc
    app.config.update(overrides)
    queue.init_app(app)
    return app
