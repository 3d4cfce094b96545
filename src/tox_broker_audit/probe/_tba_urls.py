"""Broker URLs: schemes, default ports, ``host:port`` targets, the protocol to check them with.

Pure and stdlib only (Python 3.9+), with no side effect at import: it is executed inside the
audited interpreter as the top-level module ``_tba_urls`` (by ``_tba_brokers``) and imported
on the host side as ``tox_broker_audit.probe._tba_urls``. The host calls :func:`url_target`
to match a recorded Celery URL with a reachability target, so both sides share one table of
default ports (see ``docs/architecture.md``, section "The probe").

Nothing here returns a password: URLs shown in a snapshot go through ``_tba_redact``.
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

__all__ = [
    "CELERY_BROKER_SETTINGS",
    "DEFAULT_PORTS",
    "celery_url_entry",
    "env_broker_urls",
    "host_port",
    "parse_url_target",
    "protocol_for",
    "url_target",
]

#: The port a broker URL without one means, per scheme (every scheme the probe or host knows).
DEFAULT_PORTS = {
    "amqp": 5672,
    "pyamqp": 5672,
    "librabbitmq": 5672,
    "amqps": 5671,
    "redis": 6379,
    "rediss": 6379,
    "kafka": 9092,
    "nats": 4222,
}
_PROTOCOL = {"amqp": "amqp", "pyamqp": "amqp", "librabbitmq": "amqp", "redis": "redis"}
_BROKER_SCHEMES = frozenset(DEFAULT_PORTS) | {
    "sqs",
    "sentinel",
    "redis+socket",
    "unix",
    "rabbitmq",
    "azureservicebus",
    "gcpubsub",
}
_NAME_HINTS = ("BROKER", "AMQP", "RABBIT", "REDIS", "CELERY")
#: The Celery settings that name a broker.
CELERY_BROKER_SETTINGS = ("broker_url", "broker_read_url", "broker_write_url")


def _scheme(value: str) -> str | None:
    head, sep, _rest = value.strip().partition("://")
    if not sep or not head or not head[0].isalpha():
        return None
    if not all(c.isalnum() or c in "+-." for c in head):
        return None
    return head.lower()


def host_port(host: str, port: object) -> str:
    """``host:port``, an IPv6 literal in brackets."""
    if ":" in host and not host.startswith("["):  # IPv6 literal
        host = "[" + host + "]"
    return f"{host}:{port}"


def parse_url_target(url: str) -> tuple[str | None, str | None]:
    """``(scheme, "host:port")`` of a broker URL (first one of a ``;`` list), no credentials."""
    from urllib.parse import urlsplit

    first = url.strip().split(";", 1)[0].strip()
    scheme = _scheme(first)
    if scheme is None:
        return None, None
    try:
        parts = urlsplit(first)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return scheme, None
    if scheme in ("redis+socket", "unix"):
        return scheme, "unix:" + parts.path if parts.path else None
    if scheme not in DEFAULT_PORTS:
        return scheme, f"{host}:{port}" if host and port else None
    host = host or ("localhost" if scheme.startswith(("amqp", "pyamqp", "librabbit", "redis")) else None)
    if host is None:
        return scheme, None
    return scheme, host_port(host, port or DEFAULT_PORTS[scheme])


def url_target(url: str) -> str | None:
    """``host:port`` of a (redacted) broker URL, or ``None``: the host's stable entry point.

    The first URL of a ``;`` list; no host means ``localhost``, no port the scheme's default
    port (:data:`DEFAULT_PORTS`); ``None`` when the URL does not parse or no port is known.
    """
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.split(";", 1)[0].strip())
        host, port = parts.hostname or "localhost", parts.port
    except ValueError:
        return None
    port = port or DEFAULT_PORTS.get(parts.scheme.lower())
    if port is None:
        return None
    return host_port(host, port)


def protocol_for(kind_or_scheme: str | None) -> str:
    """How to check a target: ``amqp``, ``redis``, ``tcp`` (connect only) or ``skip``."""
    if kind_or_scheme == "rabbitmq" or _PROTOCOL.get(kind_or_scheme or "") == "amqp":
        return "amqp"
    if kind_or_scheme == "redis":
        return "redis"
    if kind_or_scheme in ("amqps", "rediss", "kafka", "nats", "other"):
        return "tcp"  # TLS or a protocol we do not speak: a TCP connect is all we check
    return "skip"


def env_broker_urls(env: dict[str, object]) -> list[dict[str, str | None]]:
    """Variables that hold a broker URL or whose name says they configure a broker."""
    out: list[dict[str, str | None]] = []
    for name in sorted(env):
        value = env[name]
        if not isinstance(value, str) or not value.strip():
            continue
        scheme = _scheme(value)
        looks_broker = scheme in _BROKER_SCHEMES
        named = any(hint in name.upper() for hint in _NAME_HINTS)
        if not looks_broker and not named:
            continue
        if not looks_broker and scheme is None and redact.is_secret_name(name):
            continue  # REDIS_PASSWORD and the like: a secret, not a URL
        shown, _secret = redact.redact_value(name, value)
        target = parse_url_target(value)[1] if scheme is not None else None
        out.append({"variable": name, "url": shown, "scheme": scheme, "target": target})
    return out


def celery_url_entry(setting: str, value: object, source: str) -> dict[str, str] | None:
    """One ``celery_urls`` entry (a list of URLs joined by ``;``, redacted), or ``None`` if unset."""
    if isinstance(value, (list, tuple)):
        value = ";".join(str(v) for v in value)
    if not value:
        return None
    return {"setting": setting, "url": redact.redact_text(str(value)), "source": source}
