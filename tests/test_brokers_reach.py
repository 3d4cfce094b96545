"""Reachability checks and broker-URL detection of the probe's broker modules, on real sockets.

The AMQP check runs against a real RabbitMQ node (``_rabbitmq``); the other outcomes use
real loopback sockets: a closed port, a listener that never answers, a server speaking
another protocol, and a tiny server answering ``+PONG`` as Redis does.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tox_broker_audit.probe import _tba_brokers as brokers
from tox_broker_audit.probe import _tba_reach as reach
from tox_broker_audit.probe import _tba_urls as urls

if TYPE_CHECKING:
    from _rabbitmq import RabbitNode

#: The session-wide RabbitMQ fixture: one plugin, so one node for all modules that use it.
pytest_plugins = ["_rabbitmq"]


@pytest.mark.rabbitmq
def test_live_rabbitmq_is_reachable_and_is_not_redis(rabbitmq: RabbitNode) -> None:
    """One test for both checks on the node: the fast tier's xdist workers take one test at a
    time, so two tests here would boot a node on each worker (about 5-10 s each)."""
    result = reach.check_target(rabbitmq.target, "amqp", timeout=1.0)
    assert result["status"] == "reachable", result
    assert "Connection.Start" in result["detail"]
    assert result["elapsed_ms"] is not None
    assert result["elapsed_ms"] < 1000
    # RabbitMQ answers a Redis PING with its own protocol header and hangs up.
    assert reach.check_target(rabbitmq.target, "redis", timeout=1.0)["status"] == "wrong-protocol"


def test_closed_port_is_refused(closed_port: int) -> None:
    port = closed_port
    started = time.monotonic()
    result = reach.check_target(f"127.0.0.1:{port}", "amqp", timeout=1.0)
    assert result["status"] == "refused", result
    assert time.monotonic() - started < 0.5


def _serve(handler: Callable[[socket.socket], None]) -> Iterator[int]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.2)
    stop = threading.Event()
    conns: list[socket.socket] = []

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _addr = server.accept()
            except OSError:
                continue
            conns.append(conn)
            handler(conn)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for conn in conns:
            conn.close()
        server.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts TCP connections and never says a word."""
    yield from _serve(lambda conn: None)


@pytest.fixture
def http_port() -> Iterator[int]:
    def handler(conn: socket.socket) -> None:
        conn.recv(64)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    yield from _serve(handler)


@pytest.fixture
def redis_like_port() -> Iterator[int]:
    def handler(conn: socket.socket) -> None:
        data = conn.recv(64)
        conn.sendall(b"+PONG\r\n" if b"PING" in data else b"-ERR unknown\r\n")

    yield from _serve(handler)


def test_silent_listener_is_a_timeout(silent_port: int) -> None:
    started = time.monotonic()
    result = reach.check_target(f"127.0.0.1:{silent_port}", "amqp", timeout=0.3)
    elapsed = time.monotonic() - started
    assert result["status"] == "timeout", result
    assert "TCP connect ok" in result["detail"]
    assert 0.25 < elapsed < 1.0


def test_other_protocol_is_wrong_protocol(http_port: int) -> None:
    result = reach.check_target(f"127.0.0.1:{http_port}", "amqp", timeout=1.0)
    assert result["status"] == "wrong-protocol", result
    assert "HTTP/1.1" in result["detail"]


def test_redis_ping(redis_like_port: int) -> None:
    assert reach.check_target(f"127.0.0.1:{redis_like_port}", "redis", timeout=1.0)["status"] == "reachable"


def test_unresolvable_host() -> None:
    result = reach.check_target("no-such-host.invalid:5672", "amqp", timeout=1.0)
    assert result["status"] == "unresolvable", result


def test_budget_bounds_total_time(silent_port: int) -> None:
    targets = [(f"127.0.0.1:{silent_port}", "amqp")] * 6
    started = time.monotonic()
    results = reach.check_targets(targets, timeout=0.2, budget=0.5)
    assert time.monotonic() - started < 0.8
    assert [r["status"] for r in results[:2]] == ["timeout", "timeout"]
    assert results[-1]["status"] == "skipped"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("amqp://user:pw@rabbit.example:5673/vh", ("amqp", "rabbit.example:5673")),
        ("amqp://guest@localhost//", ("amqp", "localhost:5672")),
        ("amqps://h", ("amqps", "h:5671")),
        ("redis://", ("redis", "localhost:6379")),
        ("rediss://:pw@cache:6380/0", ("rediss", "cache:6380")),
        ("amqp://a:1@h1:1111;amqp://a:1@h2:2222", ("amqp", "h1:1111")),
        ("redis://[::1]:7000/0", ("redis", "[::1]:7000")),
        ("sqs://", ("sqs", None)),
        ("not a url", (None, None)),
    ],
)
def test_parse_url_target(url: str, expected: tuple[str | None, str | None]) -> None:
    assert urls.parse_url_target(url) == expected


def test_env_broker_urls_are_redacted_and_named() -> None:
    env = {
        "BROKER_URL": "amqp://app:Sup3rS3cret@rabbit:5672/%2F",
        "CELERY_RESULT_BACKEND": "redis://:Sup3rS3cret@cache:6379/1",
        "SOMETHING": "redis://cache:6379/0",
        "REDIS_PASSWORD": "Sup3rS3cret",
        "UNIT_TESTS": "1",
        "DRAMATIQ_BROKER": "rabbitmq",
        "HOME": "/root",
    }
    found = {e["variable"]: e for e in urls.env_broker_urls(env)}
    assert set(found) == {"BROKER_URL", "CELERY_RESULT_BACKEND", "SOMETHING", "DRAMATIQ_BROKER"}
    assert found["BROKER_URL"] == {
        "variable": "BROKER_URL",
        "url": "amqp://app:***@rabbit:5672/%2F",
        "scheme": "amqp",
        "target": "rabbit:5672",
    }
    assert found["DRAMATIQ_BROKER"]["scheme"] is None
    assert "Sup3rS3cret" not in repr(found)


# --------------------------------------------------------------------------- instrumentation

_INSTRUMENTED = r"""
import inspect, json, sys
sys.path.insert(0, PROBE_DIR)
import _tba_brokers


class State:
    phase = "collection"
    guard = 0
    startup_origin = None
    errors = []

    def error(self, section, message):
        self.errors.append(message)


state = State()
_tba_brokers.install(state)

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker

out = {"same_set_broker": dramatiq.set_broker is dramatiq.broker.set_broker}
out["signature"] = str(inspect.signature(RabbitmqBroker.__init__))
try:
    RabbitmqBroker(url="amqp://x", host="y")
except RuntimeError as exc:
    out["raised"] = str(exc)
first = dramatiq.get_broker()
out["same_default"] = first is dramatiq.get_broker()
stub = StubBroker()
dramatiq.set_broker(stub)


@dramatiq.actor(broker=stub)
def task(x):
    return x


try:
    dramatiq.actor(task.fn, broker=stub)
except ValueError as exc:
    out["duplicate"] = str(exc)
task.send(1)
out["queued"] = stub.queues["default"].qsize()
out["section"] = _tba_brokers.collect(state, {}, {"broker_reachability": False})
out["errors"] = state.errors
out["guard"] = state.guard
print(json.dumps(out))
"""


def test_instrumentation_keeps_dramatiq_behaviour() -> None:
    """The wrappers call through: same objects, same signature, same exceptions, messages flow."""
    import inspect

    import dramatiq.brokers.rabbitmq as rabbit_mod

    from tox_broker_audit.snapshot.io import _from_dict
    from tox_broker_audit.snapshot.model import BrokersSection

    probe_dir = Path(brokers.__file__).parent
    code = _INSTRUMENTED.replace("PROBE_DIR", repr(str(probe_dir)))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    out = json.loads(proc.stdout)

    assert out["same_set_broker"] is True
    assert out["signature"] == str(inspect.signature(rabbit_mod.RabbitmqBroker.__init__))
    assert "cannot be used in conjunction" in out["raised"]
    assert out["same_default"] is True
    assert "already registered" in out["duplicate"]
    assert out["queued"] == 1
    assert out["errors"] == []
    assert out["guard"] == 0
    section = _from_dict(BrokersSection, out["section"], "brokers")
    assert section.instrumented
    assert [(c.cls, c.implicit_default) for c in section.creations] == [
        ("RabbitmqBroker", False),  # the one that raised: recorded, its target unknown
        ("RabbitmqBroker", True),
        ("StubBroker", False),
    ]
    assert section.global_broker is not None
    assert section.global_broker.cls == "StubBroker"
    (actor,) = section.actors
    assert (actor.name, actor.broker_class, actor.bound_to_global) == ("task", "StubBroker", True)
    assert section.reachability == ()
