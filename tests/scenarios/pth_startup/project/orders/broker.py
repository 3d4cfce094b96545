"""Tests set ORDERS_TESTING=1 (in conftest.py) before importing the app."""

import os

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker

if os.environ.get("ORDERS_TESTING") == "1":
    broker = StubBroker()
    broker.emit_after("process_boot")
else:
    broker = RabbitmqBroker(url="amqp://127.0.0.1:5672?connection_attempts=1")
dramatiq.set_broker(broker)
