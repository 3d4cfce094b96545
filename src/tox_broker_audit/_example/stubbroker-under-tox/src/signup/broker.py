"""Broker set-up, as dramatiq's testing guide recommends: a StubBroker under unit tests.

The developers export ``UNIT_TESTS=1`` in their shell (it is in the team's ``.envrc``), so
locally every test runs against the StubBroker.
"""

import os

import dramatiq

if os.getenv("UNIT_TESTS") == "1":
    from dramatiq.brokers.stub import StubBroker

    broker = StubBroker()
    broker.emit_after("process_boot")
else:
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker = RabbitmqBroker(url=os.getenv("SIGNUP_AMQP_URL", "amqp://127.0.0.1:5672"))

dramatiq.set_broker(broker)
