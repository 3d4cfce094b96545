"""A private Redis server on loopback for the test session.

Load it as a plugin (``pytest_plugins = ["_redis"]`` in a test module): one plugin, so one
server for every module that uses the ``redis_server`` fixture. The server is Debian's
``redis-server`` in the foreground (``--daemonize no``), bound to 127.0.0.1 on a free port and
to a unix socket in its own temporary directory, with no persistence (``--save ""
--appendonly no``: nothing is written but the socket). It is polled with a bounded loop until
it answers ``PING`` with ``+PONG`` and stopped by its pid in teardown. It runs as whoever runs
the tests, root included (unlike ``rabbitmq-server``, it drops to no other user). Without the
``redis-server`` binary the tests that need it are skipped with that reason (CI installs it).

``redis_server_with_password`` is a second one, with ``requirepass`` set (``start_redis``
starts any other the tests need to themselves).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["RedisServer", "redis_server", "redis_server_with_password", "start_redis"]

_START_TIMEOUT = 10.0
_PING = b"*1\r\n$4\r\nPING\r\n"
#: ``requirepass`` of ``redis_server_with_password``.
PASSWORD = "R3dis-Pa55w0rd"


@dataclasses.dataclass(frozen=True)
class RedisServer:
    host: str
    port: int
    pid: int
    unix_socket: str
    password: str | None = None

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


def _free_port() -> int:
    """A loopback TCP port nothing listens on (right now); ``_rabbitmq.free_port``, not imported
    from there so that this plugin never imports the other before pytest registers it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _auth(password: str) -> bytes:
    raw = password.encode()
    return b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(raw), raw)


def _answers_ping(port: int, password: str | None) -> bool:
    """``+PONG`` to ``PING`` (after ``AUTH`` when the server has a password)."""
    request, expected = _PING, b"+PONG\r\n"
    if password is not None:
        request, expected = _auth(password) + _PING, b"+OK\r\n+PONG\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(request)
            sock.settimeout(2)
            data = b""
            while len(data) < len(expected):
                chunk = sock.recv(len(expected) - len(data))
                if not chunk:
                    break
                data += chunk
            return data == expected
    except OSError:
        return False


def _server() -> str | None:
    return shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.path.exists(p)), None
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server (with no save points it exits at once, writing nothing), wait, then make sure."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.contextmanager
def start_redis(password: str | None = None) -> Iterator[RedisServer]:
    """A ``redis-server`` of our own on 127.0.0.1, a free port and a unix socket; stopped on exit."""
    server = _server()
    if server is None:
        message = "redis-server is not installed (apt-get install -y redis-server)"
        if os.environ.get("CI"):  # .ci/run installs it: a skip there would hide a broken set-up
            pytest.fail(message)
        pytest.skip(message)
    base = Path(tempfile.mkdtemp(prefix="tba-redis-"))
    port = _free_port()
    unix_socket = str(base / "redis.sock")
    args = [
        server,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--protected-mode", "yes",
        "--unixsocket", unix_socket,
        "--unixsocketperm", "700",
        "--dir", str(base),
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
    ]  # fmt: skip
    if password is not None:
        args += ["--requirepass", password]
    log = (base / "out.log").open("wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not _answers_ping(port, password):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (base / "out.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"redis-server did not start on 127.0.0.1:{port}:\n{tail}")
            time.sleep(0.02)
        yield RedisServer(
            host="127.0.0.1", port=port, pid=proc.pid, unix_socket=unix_socket, password=password
        )
    finally:
        _stop(proc)
        log.close()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with start_redis() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server_with_password() -> Iterator[RedisServer]:
    """Another server, with ``requirepass`` (``PASSWORD``): the session-wide one stays open."""
    with start_redis(password=PASSWORD) as server:
        yield server
