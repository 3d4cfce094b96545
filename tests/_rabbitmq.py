"""A private RabbitMQ node on loopback for the test session (see /work/shared/rabbitmq.md).

Load it as a plugin (``pytest_plugins = ["_rabbitmq"]`` in a test module): one plugin, so one
node for every module that uses the ``rabbitmq`` fixture. The node gets
free ports, its own data directory and node name, is polled with a bounded loop until the
AMQP 0-9-1 protocol header is answered with ``Connection.Start``, and is stopped by its pid
in teardown. Without the ``rabbitmq-server`` binary the tests that need it are skipped with
that reason (CI installs it).
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

__all__ = ["RabbitNode", "closed_port", "free_port", "rabbitmq"]

_START_TIMEOUT = 60.0


@dataclasses.dataclass(frozen=True)
class RabbitNode:
    host: str
    port: int
    pid: int

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"


def free_port() -> int:
    """A loopback TCP port nothing listens on (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening: connecting to it is refused."""
    return free_port()


def _answers_amqp(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"AMQP\x00\x00\x09\x01")
            sock.settimeout(2)
            return sock.recv(7).startswith(b"\x01\x00\x00")
    except OSError:
        return False


def _server() -> str | None:
    return shutil.which("rabbitmq-server") or next(
        (
            p
            for p in ("/usr/sbin/rabbitmq-server", "/usr/lib/rabbitmq/bin/rabbitmq-server")
            if os.path.exists(p)
        ),
        None,
    )


def _chown_to_rabbitmq(path: Path) -> None:
    """The Debian server script drops to the ``rabbitmq`` user when started as root."""
    if os.geteuid() != 0:
        return
    import pwd

    try:
        entry = pwd.getpwnam("rabbitmq")
    except KeyError:
        return
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)]:
            os.chown(name, entry.pw_uid, entry.pw_gid)


def _pid_from(pid_file: Path, fallback: int) -> int:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return fallback


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop(proc: subprocess.Popen[bytes], pid_file: Path) -> None:
    """SIGTERM the node (the Erlang VM shuts down cleanly on it), wait, then make sure."""
    pid = _pid_from(pid_file, proc.pid)
    for target in dict.fromkeys((pid, proc.pid)):
        try:
            os.kill(target, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + 20
    while (_alive(pid) or proc.poll() is None) and time.monotonic() < deadline:
        time.sleep(0.1)
    # Whatever is left of the node (the VM, erl_child_setup) is in its own process group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def _start_epmd(port: int) -> subprocess.Popen[bytes] | None:
    """Our own Erlang port mapper on a free port, so the node does not leave a daemon behind."""
    epmd = shutil.which("epmd")
    if epmd is None:
        return None
    env = dict(os.environ, ERL_EPMD_ADDRESS="127.0.0.1")
    proc = subprocess.Popen(
        [epmd, "-port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.05)
    return proc


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[RabbitNode]:
    server = _server()
    if server is None:
        message = "rabbitmq-server is not installed (apt-get install -y rabbitmq-server)"
        if os.environ.get("CI"):  # .ci/run installs it: a skip there would hide a broken set-up
            pytest.fail(message)
        pytest.skip(message)
    base = Path(tempfile.mkdtemp(prefix="tba-rabbit-"))
    _chown_to_rabbitmq(base)
    port, dist_port, epmd_port = free_port(), free_port(), free_port()
    pid_file = base / "pid"
    epmd = _start_epmd(epmd_port)
    env = dict(
        os.environ,
        ERL_EPMD_PORT=str(epmd_port),
        ERL_EPMD_ADDRESS="127.0.0.1",
        RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
        RABBITMQ_NODE_PORT=str(port),
        RABBITMQ_DIST_PORT=str(dist_port),
        RABBITMQ_NODENAME=f"tba{port}@localhost",
        RABBITMQ_MNESIA_BASE=str(base / "mnesia"),
        RABBITMQ_LOG_BASE=str(base / "log"),
        RABBITMQ_FEATURE_FLAGS_FILE=str(base / "ff"),
        RABBITMQ_ENABLED_PLUGINS_FILE=str(base / "plugins"),
        RABBITMQ_PID_FILE=str(pid_file),
    )
    log = (base / "out.log").open("wb")
    proc = subprocess.Popen([server], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not _answers_amqp(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (base / "out.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"rabbitmq-server did not start on 127.0.0.1:{port}:\n{tail}")
            time.sleep(0.25)
        yield RabbitNode(host="127.0.0.1", port=port, pid=_pid_from(pid_file, proc.pid))
    finally:
        _stop(proc, pid_file)
        if epmd is not None:
            epmd.terminate()
            epmd.wait(timeout=10)
        log.close()
        shutil.rmtree(base, ignore_errors=True)
