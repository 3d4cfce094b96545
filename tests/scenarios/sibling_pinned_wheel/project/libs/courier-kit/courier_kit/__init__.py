"""courier-kit 2.0: brokers from URLs, ``stub://`` included."""

__version__ = "2.0.0"


def make_broker(url: str):
    if url == "stub://":
        from dramatiq.brokers.stub import StubBroker

        broker = StubBroker()
        broker.emit_after("process_boot")
        return broker
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    return RabbitmqBroker(url=url)
