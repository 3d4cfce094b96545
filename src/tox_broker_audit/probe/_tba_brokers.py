"""Broker introspection inside the audited interpreter: the snapshot's ``brokers`` section.

Loaded by ``_tba_probe`` (stdlib only, Python 3.9+) as the top-level module ``_tba_brokers``
and imported on the host side as ``tox_broker_audit.probe._tba_brokers`` (for tests and for
the reachability check).

Two entry points:

``install(state)``
    runs before interpreter start-up (``site``) and before anything that is not stdlib is
    imported. It puts a meta-path hook in front of the import system that waits for
    ``dramatiq.broker`` and ``dramatiq.actor`` to be *executed* and then wraps, in place,
    ``Broker.__init__`` (every broker creation: class, phase, the first frame outside the
    libraries, whether it is dramatiq's implicit default made by ``get_broker()``),
    ``set_broker`` (who set the global broker, when) and ``Actor.__init__`` (when and where
    each actor was declared). The wrappers call through, return what the originals return
    and never swallow an exception: dramatiq behaves exactly as without us.

``collect(state, env_at_start, request)``
    runs at the very end, after pytest's collection, and describes the global broker, every
    broker and actor, every creation and ``set_broker`` call, broker URLs in the environment
    and in Celery apps, and checks each distinct target with a short stdlib socket probe
    (AMQP 0-9-1 protocol header, Redis ``PING``) -- never through dramatiq/pika themselves,
    which would retry for seconds, and never logging in.

Nothing here prints or returns a password: URLs go through ``_tba_redact``.
"""

from __future__ import annotations

import sys

try:  # the probe ships both modules side by side; the host imports them as a package
    import _tba_redact as redact
except ImportError:  # pragma: no cover - host side
    from . import _tba_redact as redact  # type: ignore[no-redef]

__all__ = ["check_target", "collect", "env_broker_urls", "install", "parse_url_target"]

#: Frames of these top-level modules are "library": never the place that caused something.
_LIBRARY_TOPS = frozenset(
    {
        "dramatiq",
        "pika",
        "redis",
        "kombu",
        "celery",
        "importlib",
        "_frozen_importlib",
        "_frozen_importlib_external",
    }
)
#: Additionally skipped when building the causal stack (test runner and interpreter plumbing).
_PLUMBING_TOPS = frozenset({"_pytest", "pytest", "pluggy", "site", "runpy", "pkgutil", "__main__"})
_MAX_STACK = 6
_MAX_RECORDS = 2000


class _Records:
    """What the wrappers saw while the target's code ran (one instance per probe run)."""

    def __init__(self) -> None:
        self.state = None
        self.creations: list[dict] = []
        self.set_calls: list[dict] = []
        self.actors: list[dict] = []
        self.get_broker_codes: set = set()
        self.broker_module = None
        self.instrumented = False
        self.late = False  # dramatiq was already imported when we were installed
        self.stdlib_dir: str | None = None
        self.errors: list[str] = []


_R = _Records()


# --------------------------------------------------------------------------- helpers


def _guard(delta: int) -> None:
    state = _R.state
    if state is not None:
        state.guard += delta


def _phase() -> str:
    state = _R.state
    return getattr(state, "phase", None) or "unknown"


def _ref(obj):
    """A weak reference when possible (we must not keep the target's objects alive)."""
    try:
        import weakref

        return weakref.ref(obj)
    except TypeError:
        return lambda: obj


def _stdlib_dir() -> str:
    if _R.stdlib_dir is None:
        import os

        _R.stdlib_dir = os.path.dirname(os.path.abspath(os.__file__)) + os.sep
    return _R.stdlib_dir


def _is_library_frame(frame, plumbing: bool) -> bool:
    filename = frame.f_code.co_filename
    if "_tba_" in filename or filename.startswith("<frozen"):
        return True
    if filename in ("<string>", "<stdin>") and getattr(_R.state, "startup_origin", None):
        return False  # an executable .pth line: exactly the cause we are after
    top = str(frame.f_globals.get("__name__") or "").partition(".")[0]
    if top in _LIBRARY_TOPS:
        return True
    if not plumbing:
        return False
    if top in _PLUMBING_TOPS:
        return True
    return (
        filename.startswith(_stdlib_dir())
        and "site-packages" not in filename
        and "dist-packages" not in filename
    )


def _site(frame) -> dict:
    filename = frame.f_code.co_filename
    module = frame.f_globals.get("__name__")
    line = frame.f_lineno
    origin = getattr(_R.state, "startup_origin", None)
    if filename in ("<string>", "<stdin>") and origin:
        # An executable ``.pth`` line runs as exec(line): name the .pth file instead.
        return {"file": origin, "line": None, "module": module}
    return {"file": filename, "line": line, "module": module if isinstance(module, str) else None}


def _call_sites(start) -> tuple[dict | None, list[dict], bool]:
    """(first frame outside the libraries, causal stack innermost first, inside get_broker())."""
    first = None
    stack: list[dict] = []
    implicit = False
    frame = start
    depth = 0
    while frame is not None and depth < 400:
        depth += 1
        if frame.f_code in _R.get_broker_codes:
            implicit = True
        if first is None and not _is_library_frame(frame, plumbing=False):
            first = _site(frame)
        if len(stack) < _MAX_STACK and not _is_library_frame(frame, plumbing=True):
            site = _site(frame)
            if not stack or stack[-1] != site:
                stack.append(site)
        frame = frame.f_back
    return first, stack, implicit


# --------------------------------------------------------------------------- wrappers


def _note_creation(broker) -> None:
    if len(_R.creations) >= _MAX_RECORDS:
        return
    for record in _R.creations:
        if record["ref"]() is broker:  # a subclass calling Broker.__init__ twice
            return
    first, stack, implicit = _call_sites(sys._getframe(1))
    _R.creations.append(
        {
            "ref": _ref(broker),
            "class": type(broker).__name__,
            "phase": _phase(),
            "implicit_default": implicit,
            "site": first,
            "stack": stack,
        }
    )


def _note_set(broker) -> None:
    if len(_R.set_calls) >= _MAX_RECORDS:
        return
    first, _stack, implicit = _call_sites(sys._getframe(1))
    _R.set_calls.append(
        {
            "ref": _ref(broker),
            "class": type(broker).__name__,
            "phase": _phase(),
            "implicit_default": implicit,
            "site": first,
        }
    )


def _note_actor(actor, fn) -> None:
    if len(_R.actors) >= _MAX_RECORDS:
        return
    code = getattr(getattr(fn, "__wrapped__", fn), "__code__", None)
    first, _stack, _implicit = _call_sites(sys._getframe(1))
    _R.actors.append(
        {
            "ref": _ref(actor),
            "phase": _phase(),
            "file": getattr(code, "co_filename", None) or (first or {}).get("file"),
            "line": getattr(code, "co_firstlineno", None) or (first or {}).get("line"),
        }
    )


def _wrap(original, before=None, after=None):
    """A call-through wrapper: same arguments, same result, same exceptions."""

    def wrapper(*args, **kwargs):
        if before is not None:
            _record(before, args, kwargs)
        result = original(*args, **kwargs)
        if after is not None:
            _record(after, args, kwargs)
        return result

    _guard(1)
    try:
        import functools

        functools.update_wrapper(wrapper, original)
    except Exception:
        pass
    finally:
        _guard(-1)
    wrapper.__tba_wrapped__ = True
    return wrapper


def _record(callback, args, kwargs) -> None:
    _guard(1)
    try:
        callback(args, kwargs)
    except Exception as exc:  # recording must never break the target
        if len(_R.errors) < 20:
            _R.errors.append(f"recording failed: {type(exc).__name__}: {exc}")
    finally:
        _guard(-1)


def _patch_broker_module(module) -> None:
    broker_cls = getattr(module, "Broker", None)
    get_broker = getattr(module, "get_broker", None)
    set_broker = getattr(module, "set_broker", None)
    if broker_cls is None or get_broker is None or set_broker is None:
        _R.errors.append("dramatiq.broker has no Broker/get_broker/set_broker: not instrumented")
        return
    _R.broker_module = module
    code = getattr(getattr(get_broker, "__wrapped__", get_broker), "__code__", None)
    if code is not None:
        _R.get_broker_codes.add(code)
    init = broker_cls.__dict__.get("__init__")
    if init is not None and not getattr(init, "__tba_wrapped__", False):
        broker_cls.__init__ = _wrap(init, before=lambda a, k: _note_creation(a[0]) if a else None)
    if not getattr(set_broker, "__tba_wrapped__", False):
        # get_broker() calls set_broker through the module global: it sees the wrapper too.
        module.set_broker = _wrap(set_broker, after=lambda a, k: _note_set(a[0] if a else k.get("broker")))
    _R.instrumented = True


def _patch_actor_module(module) -> None:
    actor_cls = getattr(module, "Actor", None)
    init = getattr(actor_cls, "__dict__", {}).get("__init__") if actor_cls is not None else None
    if init is None or getattr(init, "__tba_wrapped__", False):
        return
    actor_cls.__init__ = _wrap(
        init, after=lambda a, k: _note_actor(a[0], a[1] if len(a) > 1 else k.get("fn"))
    )


_PATCHERS = {"dramatiq.broker": _patch_broker_module, "dramatiq.actor": _patch_actor_module}


def _apply(name: str, module) -> None:
    _guard(1)
    try:
        _PATCHERS[name](module)
    except Exception as exc:
        _R.errors.append(f"could not instrument {name}: {type(exc).__name__}: {exc}")
    finally:
        _guard(-1)


class DramatiqHook:
    """A meta-path finder that finds nothing itself: it lets the finders after it find
    ``dramatiq.broker``/``dramatiq.actor`` and instruments the module right after it ran."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _PATCHERS:
            return None
        try:
            index = sys.meta_path.index(self)
        except ValueError:
            return None
        spec = None
        for finder in sys.meta_path[index + 1 :]:
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        loader = getattr(spec, "loader", None)
        original = getattr(loader, "exec_module", None)
        if spec is None or original is None:
            return spec

        def exec_module(module):
            if getattr(module, "__name__", None) != fullname:  # a loader shared by several modules
                return original(module)
            try:
                original(module)
            finally:
                try:  # noqa: SIM105 - contextlib is not loaded yet at start-up: keep it that way
                    del loader.exec_module
                except AttributeError:
                    pass
            _apply(fullname, module)
            return None

        try:
            loader.exec_module = exec_module  # on this loader instance only, removed after use
        except (AttributeError, TypeError):
            _R.errors.append(f"cannot instrument {fullname}: its loader does not allow it")
        return spec

    def invalidate_caches(self) -> None:
        return None


def install(state) -> None:
    """Start watching for dramatiq. Called once, before ``site`` runs."""
    _R.state = state
    for name in _PATCHERS:  # already imported (e.g. from inside a running pytest): late
        module = sys.modules.get(name)
        if module is not None:
            _R.late = True
            _apply(name, module)
    if _R.late:
        _R.errors.append(
            "dramatiq was imported before the audit could watch it: creations before now are unknown"
        )
    sys.meta_path.insert(0, DramatiqHook())


# --------------------------------------------------------------------------- targets and URLs

_DEFAULT_PORTS = {
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
_BROKER_SCHEMES = frozenset(_DEFAULT_PORTS) | {
    "sqs",
    "sentinel",
    "redis+socket",
    "unix",
    "rabbitmq",
    "azureservicebus",
    "gcpubsub",
}
_NAME_HINTS = ("BROKER", "AMQP", "RABBIT", "REDIS", "CELERY")


def _scheme(value: str) -> str | None:
    head, sep, _rest = value.strip().partition("://")
    if not sep or not head or not head[0].isalpha():
        return None
    if not all(c.isalnum() or c in "+-." for c in head):
        return None
    return head.lower()


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
    if scheme not in _DEFAULT_PORTS:
        return scheme, f"{host}:{port}" if host and port else None
    host = host or ("localhost" if scheme.startswith(("amqp", "pyamqp", "librabbit", "redis")) else None)
    if host is None:
        return scheme, None
    return scheme, _host_port(host, port or _DEFAULT_PORTS[scheme])


def _host_port(host: str, port) -> str:
    if ":" in host and not host.startswith("["):  # IPv6 literal
        host = "[" + host + "]"
    return f"{host}:{port}"


def env_broker_urls(env: dict) -> list[dict]:
    """Variables that hold a broker URL or whose name says they configure a broker."""
    out = []
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


# --------------------------------------------------------------------------- broker objects


def _kind(broker) -> str:
    names = {cls.__name__ for cls in type(broker).__mro__}
    if "StubBroker" in names:
        return "stub"
    if "RabbitmqBroker" in names:
        return "rabbitmq"
    if "RedisBroker" in names:
        return "redis"
    return "other"


def _rabbit_target(broker) -> tuple[str | None, str | None]:
    params = getattr(broker, "parameters", None)
    if isinstance(params, (list, tuple)):
        params = params[0] if params else None
    if params is None:
        return None, None
    host = getattr(params, "host", None)
    port = getattr(params, "port", None)
    if not host or not port:
        return None, None
    target = _host_port(str(host), int(port))
    scheme = "amqps" if getattr(params, "ssl_options", None) else "amqp"
    user = getattr(getattr(params, "credentials", None), "username", None)
    has_password = bool(getattr(getattr(params, "credentials", None), "password", None))
    userinfo = ""
    if user:
        from urllib.parse import quote

        userinfo = quote(str(user), safe="") + (":" + redact.MASK if has_password else "") + "@"
    vhost = getattr(params, "virtual_host", "/")
    from urllib.parse import quote

    return target, redact.redact_text(f"{scheme}://{userinfo}{target}/{quote(str(vhost), safe='')}")


def _redis_target(broker) -> tuple[str | None, str | None]:
    client = getattr(broker, "client", None)
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None)
    if not isinstance(kwargs, dict):
        return None, None
    if kwargs.get("path"):
        target = "unix:" + str(kwargs["path"])
        return target, "unix://" + str(kwargs["path"])
    host = kwargs.get("host") or "localhost"
    port = kwargs.get("port") or 6379
    target = _host_port(str(host), int(port))
    ssl = "SSL" in getattr(getattr(pool, "connection_class", None), "__name__", "")
    user = kwargs.get("username")
    userinfo = ""
    if kwargs.get("password"):
        userinfo = (str(user) if user else "") + ":" + redact.MASK + "@"
    return target, redact.redact_text(
        f"{'rediss' if ssl else 'redis'}://{userinfo}{target}/{kwargs.get('db', 0)}"
    )


def _target(broker, kind: str) -> tuple[str | None, str | None]:
    try:
        if kind == "rabbitmq":
            return _rabbit_target(broker)
        if kind == "redis":
            return _redis_target(broker)
    except Exception as exc:
        _R.errors.append(f"cannot read the target of {type(broker).__name__}: {type(exc).__name__}: {exc}")
    return None, None


class _Brokers:
    """Assigns each broker object a stable id: ``Class@host:port`` (``#n`` for duplicates)."""

    def __init__(self) -> None:
        self.by_obj: dict = {}
        self.infos: list[dict] = []
        self.used: dict = {}

    def info(self, broker) -> dict | None:
        if broker is None:
            return None
        key = id(broker)
        found = self.by_obj.get(key)
        if found is not None:
            return found[1]
        kind = _kind(broker)
        target, url = _target(broker, kind)
        cls = type(broker).__name__
        base = f"{cls}@{target}" if target else cls
        count = self.used.get(base, 0) + 1
        self.used[base] = count
        info = {
            "id": base if count == 1 else f"{base}#{count}",
            "class": cls,
            "target": target,
            "kind": kind,
            "url": url,
        }
        self.by_obj[key] = (broker, info)  # keep the object: ids must not be reused meanwhile
        self.infos.append(info)
        return info


def _actor_entry(actor, record: dict | None, brokers: _Brokers, global_broker) -> dict:
    broker = getattr(actor, "broker", None)
    info = brokers.info(broker)
    fn = getattr(actor, "fn", None)
    inner = getattr(fn, "__wrapped__", fn)
    code = getattr(inner, "__code__", None)
    module = getattr(inner, "__module__", None) or getattr(fn, "__module__", None)
    return {
        "name": str(getattr(actor, "actor_name", "?")),
        "module": module if isinstance(module, str) else None,
        "queue": str(getattr(actor, "queue_name", "default")),
        "broker_id": info["id"] if info else None,
        "broker_class": info["class"] if info else None,
        "broker_target": info["target"] if info else None,
        "bound_to_global": broker is not None and broker is global_broker,
        "file": (record or {}).get("file") or getattr(code, "co_filename", None),
        "line": (record or {}).get("line") or getattr(code, "co_firstlineno", None),
        "phase": (record or {}).get("phase"),
    }


# --------------------------------------------------------------------------- celery


def _celery_urls() -> list[dict]:
    if "celery" not in sys.modules:
        return []
    apps = []
    state_mod = sys.modules.get("celery._state")
    for attr in ("default_app",):
        app = getattr(state_mod, attr, None)
        if app is not None:
            apps.append(app)
    try:  # noqa: SIM105
        apps.extend(list(getattr(state_mod, "_apps", ()) or ()))
    except Exception:
        pass
    out, seen = [], set()
    for app in apps:
        if id(app) in seen:
            continue
        seen.add(id(app))
        label = "celery app " + str(getattr(app, "main", None) or "<unnamed>")
        values: dict = {}
        try:
            if getattr(app, "configured", False):
                conf = app.conf  # already loaded: reading it has no side effect
                for setting in ("broker_url", "broker_read_url", "broker_write_url"):
                    values[setting] = (conf.get(setting), label)
            else:
                # Not configured yet: do not make it load its configuration (that imports
                # settings modules); report what the constructor was given.
                pre = getattr(app, "_preconf", None) or {}
                for setting in ("broker_url", "broker_read_url", "broker_write_url"):
                    if pre.get(setting):
                        values[setting] = (
                            pre.get(setting),
                            label + " (pending: the app has not loaded its configuration yet)",
                        )
        except Exception as exc:
            _R.errors.append(f"cannot read the settings of {label}: {type(exc).__name__}: {exc}")
        for setting, (value, source) in values.items():
            if isinstance(value, (list, tuple)):
                value = ";".join(str(v) for v in value)
            if value:
                out.append({"setting": setting, "url": redact.redact_text(str(value)), "source": source})
    return out


# --------------------------------------------------------------------------- reachability

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
            raise socket.timeout("timed out")
        sock.settimeout(remaining)
        chunk = sock.recv(want - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _printable(data: bytes) -> str:
    text = data[:24].decode("latin-1")
    return redact.redact_text("".join(c if 32 <= ord(c) < 127 else "." for c in text))


def check_target(target: str, protocol: str, timeout: float = 1.0) -> dict:
    """Check one ``host:port`` (or ``unix:/path``): TCP connect, then the protocol greeting.

    ``amqp``: send the AMQP 0-9-1 protocol header, expect ``Connection.Start``; ``redis``:
    send ``PING``, expect ``+PONG`` (or an auth error: still Redis); ``tcp``: connect only.
    Nothing else is sent, nobody logs in; the socket is closed right after.
    """
    import socket
    import time

    started = time.monotonic()
    result = {"target": target, "protocol": protocol, "status": "error", "detail": "", "elapsed_ms": None}

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
            sock.sendall(_AMQP_HEADER)
            try:
                data = _read_some(sock, 11, deadline)
            except socket.timeout:
                return done(
                    "timeout",
                    f"TCP connect ok ({connect_ms} ms) but no answer to the AMQP header within {timeout:g} s",
                )
            if data.startswith(b"\x01\x00\x00") and len(data) >= 11 and data[7:11] == b"\x00\x0a\x00\x0a":
                return done("reachable", "AMQP 0-9-1: the server answered with Connection.Start")
            if data.startswith(b"AMQP"):
                version = ".".join(str(b) for b in data[5:8]) if len(data) >= 8 else "?"
                return done(
                    "wrong-protocol", f"an AMQP server that does not speak 0-9-1 (it offers {version})"
                )
            if not data:
                return done(
                    "wrong-protocol", "the server closed the connection without answering the AMQP header"
                )
            return done("wrong-protocol", f"not an AMQP 0-9-1 server (answered {_printable(data)!r})")
        if protocol == "redis":
            sock.sendall(_REDIS_PING)
            try:
                data = _read_some(sock, 5, deadline)
            except socket.timeout:
                return done(
                    "timeout", f"TCP connect ok ({connect_ms} ms) but no answer to PING within {timeout:g} s"
                )
            if data.startswith(b"+PONG"):
                return done("reachable", "Redis answered PING")
            if data.startswith(b"-"):
                return done("reachable", "a Redis server (it wants authentication or refused PING)")
            if not data:
                return done("wrong-protocol", "the server closed the connection without answering PING")
            return done("wrong-protocol", f"not a Redis server (answered {_printable(data)!r})")
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


def _reachability(targets: list[tuple[str, str]], timeout: float, budget: float) -> list[dict]:
    import time

    out = []
    deadline = time.monotonic() + budget
    for target, protocol in targets:
        remaining = deadline - time.monotonic()
        if protocol == "skip":
            out.append(
                {
                    "target": target,
                    "protocol": "tcp",
                    "status": "skipped",
                    "detail": "no check for this kind of broker",
                    "elapsed_ms": None,
                }
            )
            continue
        if remaining <= 0.05:
            out.append(
                {
                    "target": target,
                    "protocol": protocol,
                    "status": "skipped",
                    "detail": "time budget for reachability checks used up",
                    "elapsed_ms": None,
                }
            )
            continue
        out.append(check_target(target, protocol, min(timeout, remaining)))
    return out


def _protocol_for(kind_or_scheme: str | None) -> str:
    if kind_or_scheme == "rabbitmq" or _PROTOCOL.get(kind_or_scheme or "") == "amqp":
        return "amqp"
    if kind_or_scheme == "redis":
        return "redis"
    if kind_or_scheme in ("amqps", "rediss", "kafka", "nats", "other"):
        return "tcp"  # TLS or a protocol we do not speak: a TCP connect is all we check
    return "skip"


# --------------------------------------------------------------------------- collect


def _find_spec(name: str) -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _dist_version(name: str) -> str | None:
    try:
        from importlib import metadata

        return metadata.version(name)
    except Exception:
        return None


def collect(state, env_at_start: dict, request: dict) -> dict:
    """The ``brokers`` section of the snapshot (see ``tox_broker_audit._snapshot.BrokersSection``)."""
    _R.state = state
    state.guard += 1
    try:
        return _collect(env_at_start, request)
    finally:
        state.guard -= 1
        for message in _R.errors:
            state.error("brokers", message)
        _R.errors = []


def _collect(env_at_start: dict, request: dict) -> dict:
    dramatiq_mod = sys.modules.get("dramatiq")
    installed = dramatiq_mod is not None or _find_spec("dramatiq")
    version = getattr(dramatiq_mod, "__version__", None) or (_dist_version("dramatiq") if installed else None)
    section: dict = {
        "captured": True,
        "dramatiq_installed": bool(installed),
        "dramatiq_version": version,
        "dramatiq_imported": dramatiq_mod is not None,
        "instrumented": _R.instrumented,
        "pika_installed": _find_spec("pika"),
        "redis_installed": _find_spec("redis"),
    }
    brokers = _Brokers()
    broker_module = _R.broker_module or sys.modules.get("dramatiq.broker")
    # Read the module global, never call get_broker(): that would create the default broker.
    global_broker = getattr(broker_module, "global_broker", None) if broker_module is not None else None
    creations = []
    for record in _R.creations:
        obj = record["ref"]()
        info = brokers.info(obj) if obj is not None else None
        site = record["site"] or {}
        creations.append(
            {
                "broker_id": info["id"] if info else record["class"] + "(gone)",
                "class": record["class"],
                "implicit_default": record["implicit_default"],
                "phase": record["phase"],
                "file": site.get("file"),
                "line": site.get("line"),
                "module": site.get("module"),
                "target": info["target"] if info else None,
                "stack": record["stack"],
            }
        )
    set_calls = []
    for record in _R.set_calls:
        obj = record["ref"]()
        info = brokers.info(obj) if obj is not None else None
        site = record["site"] or {}
        set_calls.append(
            {
                "broker_id": info["id"] if info else None,
                "class": record["class"],
                "implicit_default": record["implicit_default"],
                "phase": record["phase"],
                "file": site.get("file"),
                "line": site.get("line"),
                "module": site.get("module"),
            }
        )
    global_info = brokers.info(global_broker)
    actors, seen = [], set()
    for record in _R.actors:
        actor = record["ref"]()
        if actor is None or id(actor) in seen:
            continue
        seen.add(id(actor))
        actors.append(_actor_entry(actor, record, brokers, global_broker))
    # Actors declared before we could watch (late install) or on brokers we did not see made.
    for broker, _info in list(brokers.by_obj.values()):
        registry = getattr(broker, "actors", None)
        if isinstance(registry, dict):
            for actor in list(registry.values()):
                if id(actor) not in seen:
                    seen.add(id(actor))
                    actors.append(_actor_entry(actor, None, brokers, global_broker))
    env_urls = env_broker_urls(env_at_start)
    celery_urls = []
    try:
        celery_urls = _celery_urls()
    except Exception as exc:
        _R.errors.append(f"celery introspection failed: {type(exc).__name__}: {exc}")

    targets: list[tuple[str, str]] = []
    for info in brokers.infos:
        if info["target"]:
            targets.append((info["target"], _protocol_for(info["kind"])))
    for entry in env_urls:
        if entry["target"]:
            targets.append((entry["target"], _protocol_for(entry["scheme"])))
    for entry in celery_urls:
        scheme, target = parse_url_target(entry["url"])
        if target:
            targets.append((target, _protocol_for(scheme)))
    distinct, seen_targets = [], set()
    for target, protocol in targets:
        if target in seen_targets:
            continue
        seen_targets.add(target)
        distinct.append((target, protocol))
    reach: list[dict] = []
    if request.get("broker_reachability", True):
        timeout = float(request.get("broker_reach_timeout", 1.0))
        budget = float(request.get("broker_reach_budget", 4.0))
        reach = _reachability(distinct, timeout, budget)

    section.update(
        {
            "global_broker": global_info,
            "brokers": brokers.infos,
            "actors": actors,
            "creations": creations,
            "set_calls": set_calls,
            "env_urls": env_urls,
            "celery_urls": celery_urls,
            "reachability": reach,
        }
    )
    return section
