"""The snapshot's ``brokers`` section: dramatiq brokers and actors, broker URLs, reachability.

Stdlib only, Python 3.9+. Executed inside the audited interpreter as the top-level module
``_tba_brokers`` (by ``_tba_main``) and imported on the host side as
``tox_broker_audit.probe._tba_brokers`` by the tests. Two entry points:

``install(state)``
    runs before interpreter start-up (``site``) and before anything that is not stdlib is
    imported: it starts the dramatiq instrumentation of ``_tba_dramatiq`` (import hook and
    call-through wrappers; dramatiq behaves exactly as without us).

``collect(state, env_at_start, request)``
    runs at the very end, after pytest's collection, and describes the global broker, every
    broker and actor, every creation and ``set_broker`` call, broker URLs in the environment
    and in Celery apps (``_tba_urls``), and checks each distinct target with a short stdlib
    socket probe (``_tba_reach``) -- never through dramatiq/pika themselves, which would retry
    for seconds, and never logging in.

``state`` is the probe's recording state (``_tba_state.STATE``: ``phase``, ``guard``,
``startup_origin``, ``error()``). Nothing here prints or returns a password: URLs go through
``_tba_redact``.
"""

from __future__ import annotations

import sys

#: False when it runs. The probe's own type check (mypy-probe.ini: ``always_true``) reads these
#: modules top-level, as the target imports them, where the package fallback cannot resolve.
_MYPY_PROBE = False

try:  # inside the target the probe modules are top-level; the host imports them as a package
    import _tba_celery as celery_hooks
    import _tba_dramatiq as hooks
    import _tba_reach as reach
    import _tba_redact as redact
    import _tba_urls as urls
except ImportError:  # pragma: no cover - host side
    if not _MYPY_PROBE:
        from . import _tba_celery as celery_hooks  # type: ignore[no-redef]
        from . import _tba_dramatiq as hooks  # type: ignore[no-redef]
        from . import _tba_reach as reach  # type: ignore[no-redef]
        from . import _tba_redact as redact  # type: ignore[no-redef]
        from . import _tba_urls as urls  # type: ignore[no-redef]

__all__ = ["collect", "install"]

_R = hooks.RECORDS


def install(state) -> None:
    """Start watching for dramatiq and Celery. Called once, before ``site`` runs."""
    hooks.install(state)
    celery_hooks.install(state)


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
    target = urls.host_port(str(host), int(port))
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
    target = urls.host_port(str(host), int(port))
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
        self.by_obj: dict[int, tuple[object, dict]] = {}
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


def _celery_apps(state_mod) -> list:
    apps = []
    for attr in ("default_app",):
        app = getattr(state_mod, attr, None)
        if app is not None:
            apps.append(app)
    try:  # noqa: SIM105
        apps.extend(list(getattr(state_mod, "_apps", ()) or ()))
    except Exception:
        pass
    return apps


def _celery_settings(app, label: str) -> dict:
    """``{setting: (value, source)}`` of the broker settings of one Celery app."""
    values: dict = {}
    try:
        if getattr(app, "configured", False):
            conf = app.conf  # already loaded: reading it has no side effect
            for setting in urls.CELERY_BROKER_SETTINGS:
                values[setting] = (conf.get(setting), label)
        else:
            # Not configured yet: do not make it load its configuration (that imports
            # settings modules); report what the constructor was given.
            pre = getattr(app, "_preconf", None) or {}
            for setting in urls.CELERY_BROKER_SETTINGS:
                if pre.get(setting):
                    values[setting] = (
                        pre.get(setting),
                        label + " (pending: the app has not loaded its configuration yet)",
                    )
    except Exception as exc:
        _R.errors.append(f"cannot read the settings of {label}: {type(exc).__name__}: {exc}")
    return values


def _settings_named(celery: dict, name: str) -> dict:
    """``{app id: setting}`` of one setting of every app in the ``celery`` section, as Celery
    uses it (``CELERY_BROKER_URL`` / ``CELERY_RESULT_BACKEND`` first)."""
    return {
        app["id"]: setting
        for app in celery.get("apps") or ()
        for setting in app.get("settings") or ()
        if setting["name"] == name
    }


def _celery_urls(celery: dict) -> list[dict]:
    if "celery" not in sys.modules:
        return []
    effective = _settings_named(celery, "broker_url")
    out, seen = [], set()
    for app in _celery_apps(sys.modules.get("celery._state")):
        if id(app) in seen:
            continue
        seen.add(id(app))
        label = "celery app " + str(getattr(app, "main", None) or "<unnamed>")
        settings = _celery_settings(app, label)
        known = effective.get(str(getattr(app, "main", None)))
        if known is not None and known["source"] == "env":  # the variable beats the setting
            settings["broker_url"] = (
                known["value"],
                f"{label} (from the environment variable {known['detail']})",
            )
        for setting, (value, source) in settings.items():
            entry = urls.celery_url_entry(setting, value, source)
            if entry is not None:
                out.append(entry)
    return out


def _celery_backends(celery: dict) -> list[dict]:
    """The apps' result backends as ``celery_urls``-like entries (reachability only)."""
    return [
        {"setting": "result_backend", "url": setting["value"], "source": app_id}
        for app_id, setting in _settings_named(celery, "result_backend").items()
        if isinstance(setting["value"], str)
    ]


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


def _dramatiq_facts() -> dict:
    dramatiq_mod = sys.modules.get("dramatiq")
    installed = dramatiq_mod is not None or _find_spec("dramatiq")
    version = getattr(dramatiq_mod, "__version__", None) or (_dist_version("dramatiq") if installed else None)
    return {
        "captured": True,
        "dramatiq_installed": bool(installed),
        "dramatiq_version": version,
        "dramatiq_imported": dramatiq_mod is not None,
        "instrumented": _R.instrumented,
        "pika_installed": _find_spec("pika"),
        "redis_installed": _find_spec("redis"),
    }


def _creation_entries(brokers: _Brokers) -> list[dict]:
    out = []
    for record in _R.creations:
        obj = record["ref"]()
        info = brokers.info(obj) if obj is not None else None
        site = record["site"] or {}
        out.append(
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
    return out


def _set_call_entries(brokers: _Brokers) -> list[dict]:
    out = []
    for record in _R.set_calls:
        obj = record["ref"]()
        info = brokers.info(obj) if obj is not None else None
        site = record["site"] or {}
        out.append(
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
    return out


def _actor_entries(brokers: _Brokers, global_broker) -> list[dict]:
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
    return actors


def _distinct_targets(brokers: _Brokers, env_urls: list, celery_urls: list) -> list[tuple[str, str]]:
    """Every broker target seen, once, with the protocol to check it with."""
    targets: list[tuple[str, str]] = []
    for info in brokers.infos:
        if info["target"]:
            targets.append((info["target"], urls.protocol_for(info["kind"])))
    for entry in env_urls:
        if entry["target"]:
            targets.append((entry["target"], urls.protocol_for(entry["scheme"])))
    for entry in celery_urls:
        scheme, target = urls.parse_url_target(entry["url"])
        if target:
            targets.append((target, urls.protocol_for(scheme)))
    distinct, seen_targets = [], set()
    for target, protocol in targets:
        if target in seen_targets:
            continue
        seen_targets.add(target)
        distinct.append((target, protocol))
    return distinct


def _collect(env_at_start: dict, request: dict) -> dict:
    section = _dramatiq_facts()
    brokers = _Brokers()
    broker_module = _R.broker_module or sys.modules.get("dramatiq.broker")
    # Read the module global, never call get_broker(): that would create the default broker.
    global_broker = getattr(broker_module, "global_broker", None) if broker_module is not None else None
    creations = _creation_entries(brokers)
    set_calls = _set_call_entries(brokers)
    global_info = brokers.info(global_broker)
    actors = _actor_entries(brokers, global_broker)
    env_urls = urls.env_broker_urls(env_at_start)
    celery: dict = {"imported": False}
    celery_urls = []
    try:
        celery = celery_hooks.collect()  # first: it loads the apps' configuration
        celery_urls = _celery_urls(celery)
    except Exception as exc:
        _R.errors.append(f"celery introspection failed: {type(exc).__name__}: {exc}")
    distinct = _distinct_targets(brokers, env_urls, [*celery_urls, *_celery_backends(celery)])
    reachability: list[dict] = []
    if request.get("broker_reachability", True):
        timeout = float(request.get("broker_reach_timeout", 1.0))
        budget = float(request.get("broker_reach_budget", 4.0))
        reachability = reach.check_targets(distinct, timeout, budget)
    section.update(
        {
            "global_broker": global_info,
            "brokers": brokers.infos,
            "actors": actors,
            "creations": creations,
            "set_calls": set_calls,
            "env_urls": env_urls,
            "celery_urls": celery_urls,
            "celery": celery,
            "reachability": reachability,
        }
    )
    return section
