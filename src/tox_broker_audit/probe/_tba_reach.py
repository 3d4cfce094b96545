"""Reachability of broker targets: a short stdlib socket probe, within a time budget.

Stdlib only, Python 3.9+. Executed inside the audited interpreter as the top-level module
``_tba_reach`` (by ``_tba_brokers``, at the very end of the probe run) and imported on the host
side as ``tox_broker_audit.probe._tba_reach`` by the tests.

Each target gets a TCP connect and, where we speak the protocol, its greeting: the AMQP 0-9-1
protocol header (expect ``Connection.Start``) or a Redis ``PING``. Never through dramatiq or
pika themselves, which would retry for seconds; nobody logs in, nothing else is sent. Sockets
are imported lazily: the probe must not load modules at start-up that the target would load.
"""

from __future__ import annotations

#: False when it runs. The probe's own type check (mypy-probe.ini: ``always_true``) reads these
#: modules top-level, as the target imports them, where the package fallback cannot resolve.
_MYPY_PROBE = False

try:  # inside the target the probe modules are top-level; the host imports them as a package
    import _tba_redact as redact
except ImportError:  # pragma: no cover - host side
    if not _MYPY_PROBE:
        from . import _tba_redact as redact  # type: ignore[no-redef]

__all__ = ["check_target", "check_targets"]

_AMQP_HEADER = b"AMQP\x00\x00\x09\x01"
_REDIS_PING = b"*1\r\n$4\r\nPING\r\n"


def _split_target(target: str) -> tuple[str, int] | None:
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _read_some(sock, want: int, deadline: float):
    import socket
    import time

    data = b""
    while len(data) < want:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            msg = "timed out"
            raise socket.timeout(msg)
        sock.settimeout(remaining)
        chunk = sock.recv(want - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _printable(data: bytes) -> str:
    text = data[:24].decode("latin-1")
    return redact.redact_text("".join(c if 32 <= ord(c) < 127 else "." for c in text))


def _amqp_answer(sock, deadline: float, timeout: float, connect_ms: float) -> tuple[str, str]:
    """Send the AMQP 0-9-1 protocol header; a 0-9-1 server answers with ``Connection.Start``."""
    import socket

    sock.sendall(_AMQP_HEADER)
    try:
        data = _read_some(sock, 11, deadline)
    except socket.timeout:
        return (
            "timeout",
            f"TCP connect ok ({connect_ms} ms) but no answer to the AMQP header within {timeout:g} s",
        )
    if data.startswith(b"\x01\x00\x00") and len(data) >= 11 and data[7:11] == b"\x00\x0a\x00\x0a":
        return "reachable", "AMQP 0-9-1: the server answered with Connection.Start"
    if data.startswith(b"AMQP"):
        version = ".".join(str(b) for b in data[5:8]) if len(data) >= 8 else "?"
        return "wrong-protocol", f"an AMQP server that does not speak 0-9-1 (it offers {version})"
    if not data:
        return "wrong-protocol", "the server closed the connection without answering the AMQP header"
    return "wrong-protocol", f"not an AMQP 0-9-1 server (answered {_printable(data)!r})"


def _redis_answer(sock, deadline: float, timeout: float, connect_ms: float) -> tuple[str, str]:
    """Send ``PING``; Redis answers ``+PONG`` (or an error when it wants authentication)."""
    import socket

    sock.sendall(_REDIS_PING)
    try:
        data = _read_some(sock, 5, deadline)
    except socket.timeout:
        return "timeout", f"TCP connect ok ({connect_ms} ms) but no answer to PING within {timeout:g} s"
    if data.startswith(b"+PONG"):
        return "reachable", "Redis answered PING"
    if data.startswith(b"-"):
        return "reachable", "a Redis server (it wants authentication or refused PING)"
    if not data:
        return "wrong-protocol", "the server closed the connection without answering PING"
    return "wrong-protocol", f"not a Redis server (answered {_printable(data)!r})"


def check_target(target: str, protocol: str, timeout: float = 1.0) -> dict:
    """Check one ``host:port`` (or ``unix:/path``): TCP connect, then the protocol greeting.

    ``amqp``: send the AMQP 0-9-1 protocol header, expect ``Connection.Start``; ``redis``:
    send ``PING``, expect ``+PONG`` (or an auth error: still Redis); ``tcp``: connect only.
    Nothing else is sent, nobody logs in; the socket is closed right after.
    """
    import socket
    import time

    started = time.monotonic()
    result: dict[str, object] = {
        "target": target,
        "protocol": protocol,
        "status": "error",
        "detail": "",
        "elapsed_ms": None,
    }

    def done(status: str, detail: str) -> dict:
        result["status"] = status
        result["detail"] = detail
        result["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
        return result

    deadline = started + timeout
    sock = None
    try:
        if target.startswith("unix:"):
            if not hasattr(socket, "AF_UNIX"):
                return done("skipped", "unix sockets are not available here")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(target[5:])
        else:
            split = _split_target(target)
            if split is None:
                return done("error", "not a host:port target")
            sock = socket.create_connection(split, timeout=timeout)
        connect_ms = round((time.monotonic() - started) * 1000, 1)
        if protocol == "amqp":
            return done(*_amqp_answer(sock, deadline, timeout, connect_ms))
        if protocol == "redis":
            return done(*_redis_answer(sock, deadline, timeout, connect_ms))
        return done("reachable", "TCP connect ok (protocol not checked)")
    except ConnectionRefusedError:
        return done("refused", "connection refused: nothing listens there")
    except socket.timeout:
        return done("timeout", f"no TCP answer within {timeout:g} s")
    except socket.gaierror as exc:
        return done("unresolvable", f"cannot resolve the host: {exc.strerror or exc}")
    except OSError as exc:
        return done("error", f"{type(exc).__name__}: {exc.strerror or exc}")
    finally:
        if sock is not None:
            try:  # noqa: SIM105
                sock.close()
            except OSError:
                pass


def _skipped(target: str, protocol: str, detail: str) -> dict:
    return {"target": target, "protocol": protocol, "status": "skipped", "detail": detail, "elapsed_ms": None}


def check_targets(targets: list[tuple[str, str]], timeout: float, budget: float) -> list[dict]:
    """Check each ``(target, protocol)`` in order; all of them together within ``budget`` seconds."""
    import time

    out = []
    deadline = time.monotonic() + budget
    for target, protocol in targets:
        remaining = deadline - time.monotonic()
        if protocol == "skip":
            out.append(_skipped(target, "tcp", "no check for this kind of broker"))
            continue
        if remaining <= 0.05:
            out.append(_skipped(target, protocol, "time budget for reachability checks used up"))
            continue
        out.append(check_target(target, protocol, min(timeout, remaining)))
    return out
