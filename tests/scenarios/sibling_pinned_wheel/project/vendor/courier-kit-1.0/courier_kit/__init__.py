"""courier-kit 1.0: RabbitMQ only (``stub://`` came in 2.0)."""

__version__ = "1.0.0"


def make_broker(url: str):
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    if not url.startswith("amqp://"):
        url = "amqp://127.0.0.1:5672?connection_attempts=1"
    return RabbitmqBroker(url=url)
