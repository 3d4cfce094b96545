"""The probe's Redis reachability check (``_tba_reach``) against a real ``redis-server``.

``_redis`` starts the server (loopback, a free port, a unix socket, no persistence), and a
second one with ``requirepass`` set for what a Redis that wants a password is reported as. No
``slow`` mark: no venv, no tox, and a server is up in a few milliseconds, so the fast tier
holds these (xdist may start one server per worker; that costs nothing worth sharing).
"""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING

from tox_broker_audit.probe import _tba_reach as reach
from tox_broker_audit.probe import _tba_urls as urls

if TYPE_CHECKING:
    from _redis import RedisServer

#: ``closed_port`` from ``_rabbitmq`` (it starts no node unless a test asks for ``rabbitmq``);
#: the session-wide Redis servers from ``_redis``. Neither is imported here at run time: pytest
#: must import a plugin first, or it cannot rewrite its asserts.
pytest_plugins = ["_rabbitmq", "_redis"]


def _raw_ping(port: int) -> bytes:
    """What the server answers a bare ``PING`` (no ``AUTH``), read straight off the socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        return sock.recv(256)


def test_live_redis_is_reachable(redis_server: RedisServer) -> None:
    result = reach.check_target(redis_server.target, "redis", timeout=1.0)
    assert result["status"] == "reachable", result
    assert result["detail"] == "Redis answered PING"
    assert result["target"] == redis_server.target
    assert result["protocol"] == "redis"
    assert result["elapsed_ms"] is not None
    assert result["elapsed_ms"] < 1000


def test_live_redis_url_is_checked_as_redis(redis_server: RedisServer) -> None:
    """The way the probe gets there from a ``redis://`` URL: its target, its protocol, the check."""
    scheme, target = urls.parse_url_target(redis_server.url)
    assert (scheme, target) == ("redis", redis_server.target)
    assert target is not None
    protocol = urls.protocol_for(scheme)
    assert protocol == "redis"
    (result,) = reach.check_targets([(target, protocol)], timeout=1.0, budget=4.0)
    assert result["status"] == "reachable", result
    assert result["detail"] == "Redis answered PING"
    # ``redis://`` with no host means localhost: it resolves (maybe to ::1 first) and gets there.
    localhost = reach.check_target(f"localhost:{redis_server.port}", "redis", timeout=1.0)
    assert localhost["status"] == "reachable", localhost


def test_live_redis_unix_socket_is_reachable(redis_server: RedisServer) -> None:
    """A RedisBroker on a unix socket has the target ``unix:/path`` (``_tba_brokers``)."""
    result = reach.check_target("unix:" + redis_server.unix_socket, "redis", timeout=1.0)
    assert result["status"] == "reachable", result
    assert result["detail"] == "Redis answered PING"


def test_amqp_header_to_redis_gets_no_answer(redis_server: RedisServer) -> None:
    """An ``amqp://`` URL that points at a Redis: Redis reads the 8-byte AMQP header as the start
    of an inline command and waits for its line end, so the check runs into its time-out
    (``timeout``, not ``wrong-protocol``) while a plain TCP connect succeeds."""
    started = time.monotonic()
    result = reach.check_target(redis_server.target, "amqp", timeout=0.3)
    elapsed = time.monotonic() - started
    assert result["status"] == "timeout", result
    assert "TCP connect ok" in result["detail"]
    assert "AMQP header" in result["detail"]
    assert 0.25 < elapsed < 1.0
    assert reach.check_target(redis_server.target, "tcp", timeout=1.0)["status"] == "reachable"
    # The server is still fine afterwards: the probe closed its socket, nothing more.
    assert _raw_ping(redis_server.port) == b"+PONG\r\n"


def test_closed_port_is_refused_for_redis(closed_port: int) -> None:
    started = time.monotonic()
    result = reach.check_target(f"127.0.0.1:{closed_port}", "redis", timeout=1.0)
    assert result["status"] == "refused", result
    assert result["detail"] == "connection refused: nothing listens there"
    assert time.monotonic() - started < 0.5


def test_redis_with_password_is_a_redis_that_answered(redis_server_with_password: RedisServer) -> None:
    """``requirepass`` set: ``PING`` without ``AUTH`` gets ``-NOAUTH``, and the probe, which never
    logs in, reports a Redis server that answered (``reachable``), saying it wants authentication
    (docs/brokers.md: an error reply such as ``-NOAUTH`` still means "a Redis server")."""
    server = redis_server_with_password
    assert server.password is not None
    assert _raw_ping(server.port).startswith(b"-NOAUTH ")  # the premise: it does want a password
    for target in (server.target, "unix:" + server.unix_socket):
        result = reach.check_target(target, "redis", timeout=1.0)
        assert result["status"] == "reachable", result
        assert result["detail"] == "a Redis server (it wants authentication or refused PING)"
        assert server.password not in repr(result)
