"""The broker from config/broker.json (relative to where the tests are run), else RabbitMQ."""

import json

import dramatiq

try:
    with open("config/broker.json", encoding="utf-8") as fh:
        url = json.load(fh)["url"]
except FileNotFoundError:
    url = "amqp://127.0.0.1:5672?connection_attempts=1"

if url == "stub://":
    from dramatiq.brokers.stub import StubBroker

    broker = StubBroker()
    broker.emit_after("process_boot")
else:
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker = RabbitmqBroker(url=url)

dramatiq.set_broker(broker)
