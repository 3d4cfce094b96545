"""A Flask-Dramatiq-style extension: actors are declared lazily and bound in init_app()."""

from __future__ import annotations

from typing import Any, Callable

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker


class LazyActor:
    def __init__(self, fn: Callable[..., Any], options: dict[str, Any]) -> None:
        self.fn, self.options, self.actor = fn, options, None

    def bind(self, broker: dramatiq.Broker) -> None:
        self.actor = dramatiq.actor(self.fn, broker=broker, **self.options)

    def send(self, *args: Any) -> dramatiq.Message:
        assert self.actor is not None, "create_app() first"
        return self.actor.send(*args)


class Queue:
    def __init__(self) -> None:
        self.actors: list[LazyActor] = []
        self.broker: dramatiq.Broker | None = None

    def actor(self, **options: Any) -> Callable[[Callable[..., Any]], LazyActor]:
        def decorate(fn: Callable[..., Any]) -> LazyActor:
            lazy = LazyActor(fn, options)
            self.actors.append(lazy)
            return lazy

        return decorate

    def init_app(self, app: Any) -> None:
        if app.config["DRAMATIQ_BROKER_CLASS"] == "StubBroker":
            broker: dramatiq.Broker = StubBroker()
            broker.emit_after("process_boot")
        else:
            broker = RabbitmqBroker(url=app.config["DRAMATIQ_BROKER_URL"])
        dramatiq.set_broker(broker)
        for lazy in self.actors:
            lazy.bind(broker)
        self.broker = broker
        app.extensions["dramatiq"] = self


queue = Queue()
