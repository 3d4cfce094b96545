"""Celery instrumentation: which apps exist, where their settings came from, what task calls did.

Stdlib only, Python 3.9+. Executed inside the audited interpreter as the top-level module
``_tba_celery``; ``_tba_brokers.install`` calls :func:`install` before interpreter start-up.
Celery is never imported here: the import watcher of ``_tba_dramatiq`` instruments each module
right after the project's own import executed it (docs/design/celery-research.md, section 1):

``celery.app.base``
    ``Celery.__init__`` (every app: where, and whether it is Celery's fallback ``default`` app,
    made by ``celery._state._get_current_app`` because a task asked for ``current_app`` before
    any app existed) and ``Celery.config_from_object`` (the configuration source, namespace).
``celery.app.task``
    ``Task.apply_async`` (``delay()`` calls it): the task, the app it resolved to at call time,
    eager or sent, and the exception, with the side it came from (broker or result backend).
``kombu.connection``
    ``Connection._establish_connection``: every broker connect attempt, its masked URI.

The wrappers call through and never change a result or an exception. :func:`collect` reads,
at the end, each app's effective ``broker_url``, ``result_backend`` and eager settings and
*where each value came from* (an environment variable, a ``Celery()`` argument, code that set
``app.conf``, the configuration object and the key it had there, Celery's default). An app
that has not loaded its configuration by then is made to load it, once the run is over, with
the probe's guard up (nothing it reads is recorded as the target's doing): what the first
``.delay()`` would have seen.
"""

from __future__ import annotations

import sys

_MYPY_PROBE = False

try:  # inside the target the probe modules are top-level; the host imports them as a package
    import _tba_dramatiq as watch
    import _tba_redact as redact
    import _tba_urls as urls
except ImportError:  # pragma: no cover - host side
    if not _MYPY_PROBE:
        from . import _tba_dramatiq as watch  # type: ignore[no-redef]
        from . import _tba_redact as redact  # type: ignore[no-redef]
        from . import _tba_urls as urls  # type: ignore[no-redef]

__all__ = ["RECORDS", "collect", "install"]

#: The settings the snapshot reports per app, in this order.
SETTINGS = (
    "broker_url",
    "result_backend",
    "task_always_eager",
    "task_eager_propagates",
    "task_store_eager_result",
)
#: Settings whose property reads an environment variable first (celery/app/utils.py).
_ENV_OVERRIDES = {"broker_url": "CELERY_BROKER_URL", "result_backend": "CELERY_RESULT_BACKEND"}
#: Frames of these top-level modules are never "the code that called".
_LIBRARY_TOPS = frozenset(
    {"celery", "kombu", "amqp", "vine", "billiard", "redis", "django", "pytest_django", "importlib"}
)
_PLUMBING_TOPS = frozenset({"_pytest", "pytest", "pluggy", "runpy", "__main__", "unittest", "functools"})
_IN_PROCESS = ("memory", "cache+memory", "cache", "disabled", "rpc")
_MAX = 500


class Records:
    def __init__(self) -> None:
        self.state = None
        self.apps: list[dict] = []
        self.calls: list[dict] = []
        self.errors: list[str] = []
        self.instrumented: set = set()
        self.late = False
        self.fallback_code = None


RECORDS = Records()
_R = RECORDS


# --------------------------------------------------------------------------- frames


def _user_frame(frame):
    """The innermost frame outside the libraries, pytest, the stdlib and the probe."""
    while frame is not None:
        filename = frame.f_code.co_filename
        top = str(frame.f_globals.get("__name__") or "").partition(".")[0]
        library = (
            "_tba_" in filename
            or filename.startswith("<")
            or top in _LIBRARY_TOPS
            or top in _PLUMBING_TOPS
            or (filename.startswith(watch._stdlib_dir()) and "-packages" not in filename)
        )
        if not library:
            return frame
        frame = frame.f_back
    return None


def _site(frame) -> dict:
    found = _user_frame(frame)
    if found is None:
        return {"file": None, "line": None, "module": None}
    module = found.f_globals.get("__name__")
    return {
        "file": found.f_code.co_filename,
        "line": found.f_lineno,
        "module": module if isinstance(module, str) else None,
    }


def _record_for(app) -> dict | None:
    for record in _R.apps:
        if record["ref"]() is app:
            return record
    return None


def _phase() -> str:
    return getattr(_R.state, "phase", None) or "unknown"


def _thread_name() -> str:
    import threading

    return threading.current_thread().name


# --------------------------------------------------------------------------- wrappers


def _note_app(args, kwargs) -> None:
    app = args[0] if args else None
    if app is None or _record_for(app) is not None or len(_R.apps) >= _MAX:
        return
    caller = sys._getframe(3)  # _record -> wrapper -> Celery.__init__'s caller
    fallback = _R.fallback_code is not None and caller.f_code is _R.fallback_code
    main = args[1] if len(args) > 1 else kwargs.get("main")
    given = {}
    for key, arg in (("broker_url", "broker"), ("result_backend", "backend")):
        if kwargs.get(arg):
            given[key] = str(kwargs[arg])
    _R.apps.append(
        {
            "ref": watch._ref(app),
            "main": str(main) if main else None,
            "fallback": fallback,
            "phase": _phase(),
            "site": _site(caller),
            "given": given,
            "source": None,
            "namespace": None,
            "source_site": None,
        }
    )


def _note_config_source(args, kwargs) -> None:
    app = args[0] if args else None
    record = _record_for(app) if app is not None else None
    if record is None:
        return
    obj = args[1] if len(args) > 1 else kwargs.get("obj")
    if isinstance(obj, str):
        name = obj
    else:
        name = f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__qualname__)}"
    record["source"] = name
    record["namespace"] = kwargs.get("namespace") or record.get("namespace")
    record["source_site"] = _site(sys._getframe(3))


_LOCAL: list = []  # the threading.local of the task calls in progress, made at the first call


def _stack() -> list:
    """The task calls in progress on this thread, innermost last (a connect belongs to it)."""
    if not _LOCAL:
        import threading

        _LOCAL.append(threading.local())
    local = _LOCAL[0]
    stack: list | None = getattr(local, "stack", None)
    if stack is None:
        stack = local.stack = []
    return stack


def _wrap_apply_async(original):
    def apply_async(self, *args, **kwargs):
        call: dict = {
            "task": str(getattr(type(self), "name", None) or getattr(self, "name", "?")),
            "phase": _phase(),
            "site": None,
            "thread": None,
            "connects": [],
        }
        watch._guard(1)
        try:
            call["site"] = _site(sys._getframe(1))
            call["thread"] = _thread_name()
        except Exception:
            pass
        finally:
            watch._guard(-1)
        stack = _stack()
        stack.append(call)
        try:
            result = original(self, *args, **kwargs)
        except BaseException as exc:
            _finish_call(self, call, None, exc)
            raise
        finally:
            stack.pop()
        _finish_call(self, call, result, None)
        return result

    return apply_async


def _finish_call(task, call: dict, result, exc) -> None:
    if len(_R.calls) >= _MAX:
        return
    watch._guard(1)
    try:
        app = getattr(type(task), "_app", None) or getattr(task, "_app", None)
        call["app"] = app
        if exc is not None:
            call["outcome"] = "error"
            call["error"] = redact.redact_text(f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
            call["error_side"] = _error_side(exc)
        else:
            kind = type(result).__name__
            call["outcome"] = "eager" if kind == "EagerResult" else "sent"
            call["error"] = None
            call["error_side"] = None
        conf = getattr(app, "_conf", None) if getattr(app, "configured", False) else None
        call["eager"] = bool(conf.get("task_always_eager")) if conf is not None else None
        call["broker"] = _safe_url(getattr(conf, "broker_url", None)) if conf is not None else None
        call["backend"] = _safe_url(getattr(conf, "result_backend", None)) if conf is not None else None
        _R.calls.append(call)
    except Exception as error:
        if len(_R.errors) < 20:
            _R.errors.append(f"recording a task call failed: {type(error).__name__}: {error}")
    finally:
        watch._guard(-1)


def _error_side(exc) -> str | None:
    """``backend`` when the exception came out of ``celery/backends`` (or redis-py below it),
    ``broker`` when it came out of kombu's connection; ``None`` for the task's own error."""
    side = None
    tb = getattr(exc, "__traceback__", None)
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename.replace("\\", "/")
        if "/celery/backends/" in name:
            side = "backend"
        elif "/kombu/" in name and side is None:
            side = "broker"
        tb = tb.tb_next
    return side


def _wrap_establish(original):
    def _establish_connection(self, *args, **kwargs):
        stack = _stack()
        if stack and len(stack[-1]["connects"]) < 5:
            try:  # noqa: SIM105 - as cheap as it gets on kombu's connect path
                stack[-1]["connects"].append(redact.redact_text(str(self.as_uri())))
            except Exception:
                pass
        return original(self, *args, **kwargs)

    return _establish_connection


def _safe_url(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        value = ";".join(str(v) for v in value)
    return redact.redact_text(str(value))


# --------------------------------------------------------------------------- patchers


def _replace(cls, attr: str, make) -> bool:
    """``cls.attr`` (its own, from its ``__dict__``) replaced by ``make(original)``, once; whether
    it is wrapped now."""
    original = getattr(cls, "__dict__", {}).get(attr) if cls is not None else None
    if original is None:
        return False
    if not getattr(original, "__tba_wrapped__", False):
        wrapper = make(original)
        wrapper.__tba_wrapped__ = True
        setattr(cls, attr, wrapper)
    return True


def _call_through(factory):
    """``make`` for :func:`_replace`: ``factory(original)`` with the original's name and doc."""

    def make(original):
        import functools

        return functools.wraps(original)(factory(original))

    return make


def _patch_base(module) -> None:
    celery_cls = getattr(module, "Celery", None)
    if celery_cls is None:
        _R.errors.append("celery.app.base has no Celery class: not instrumented")
        return
    _replace(celery_cls, "__init__", lambda init: watch._wrap(init, before=_note_app))
    _replace(celery_cls, "config_from_object", lambda f: watch._wrap(f, after=_note_config_source))
    state = sys.modules.get("celery._state")
    fallback = getattr(state, "_get_current_app", None)
    _R.fallback_code = getattr(fallback, "__code__", None)
    _R.instrumented.add("apps")


def _patch_task(module) -> None:
    if _replace(getattr(module, "Task", None), "apply_async", _call_through(_wrap_apply_async)):
        _R.instrumented.add("calls")


def _patch_kombu(module) -> None:
    connection = getattr(module, "Connection", None)
    if _replace(connection, "_establish_connection", _call_through(_wrap_establish)):
        _R.instrumented.add("connects")


_PATCHERS = {"celery.app.base": _patch_base, "celery.app.task": _patch_task, "kombu.connection": _patch_kombu}


def install(state) -> None:
    """Start watching for Celery and kombu. Called once, before ``site`` runs."""
    _R.state = state
    _R.late = any(name in sys.modules for name in _PATCHERS)
    watch.watch_modules(_PATCHERS, _R.errors)


# --------------------------------------------------------------------------- collect


def _source_of(record: dict | None, conf, key: str) -> tuple[str, str | None]:
    """(kind, detail) of where ``app``'s effective ``key`` came from."""
    import os

    env = _ENV_OVERRIDES.get(key)
    if env and os.environ.get(env):
        return "env", env
    try:
        keys = conf._to_keys(key)
    except Exception:
        keys = (key,)
    maps = list(getattr(conf, "maps", ()) or ())
    for index, mapping in enumerate(maps):
        for name in keys:
            try:
                present = name in mapping
            except Exception:
                present = False
            if not present:
                continue
            if index == 0:
                given = (record or {}).get("given") or {}
                return ("argument", None) if key in given else ("code", "app.conf")
            if index == len(maps) - 1:
                return "default", None
            if getattr(mapping, "obj", None) is not None or (record or {}).get("source"):
                return "config", f"{_said_config(record)} as {name}"
            return "defaults", "add_defaults()"
    return "default", None


def _said_config(record: dict | None) -> str:
    """The configuration source; Django's with the settings module it resolved to."""
    source = str((record or {}).get("source") or "?")
    if source.startswith("django.conf"):
        settings = getattr(sys.modules.get("django.conf"), "settings", None)
        try:
            module = settings.SETTINGS_MODULE if settings is not None and settings.configured else None
        except Exception:
            module = None
        if module:
            return f"{source} ({module})"
    return source


def _value(conf, key: str) -> object:
    if key in _ENV_OVERRIDES:
        return _safe_url(getattr(conf, key, None))
    value = conf.get(key)
    return None if value is None else bool(value)


def _app_settings(app, record: dict | None) -> tuple[list[dict], str | None]:
    """The app's effective settings with their sources, loading its configuration if needed."""
    try:
        if not getattr(app, "configured", False):
            app.conf.get("broker_url")  # the run is over: load it as the first .delay() would
        conf = app._conf
        if not getattr(app, "configured", False) or not hasattr(conf, "maps"):
            return [], "its configuration did not load"
    except Exception as exc:
        return [], redact.redact_text(f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
    out = []
    for key in SETTINGS:
        try:
            kind, detail = _source_of(record, conf, key)
            out.append({"name": key, "value": _value(conf, key), "source": kind, "detail": detail})
        except Exception as exc:
            out.append({"name": key, "value": None, "source": "unknown", "detail": type(exc).__name__})
    return out, None


def _ids(apps: list) -> dict:
    ids: dict = {}
    used: dict = {}
    for app, record in apps:
        base = str(getattr(app, "main", None) or (record or {}).get("main") or "__main__")
        used[base] = used.get(base, 0) + 1
        ids[id(app)] = base if used[base] == 1 else f"{base}#{used[base]}"
    return ids


def _all_apps(state_mod) -> list:
    apps: list = []
    seen: set = set()
    for record in _R.apps:
        app = record["ref"]()
        if app is not None and id(app) not in seen:
            seen.add(id(app))
            apps.append((app, record))
    default = getattr(state_mod, "default_app", None)
    for app in [default, *list(getattr(state_mod, "_apps", ()) or ())]:
        if app is not None and id(app) not in seen:
            seen.add(id(app))
            apps.append((app, None))
    return apps


def _app_entry(app, record, app_id: str, state_mod) -> dict:
    settings, error = _app_settings(app, record)
    site = (record or {}).get("site") or {}
    fixups = [type(f).__name__ for f in (getattr(app, "_fixups", None) or ()) if f is not None]
    return {
        "id": app_id,
        "main": getattr(app, "main", None),
        "fallback": bool((record or {}).get("fallback")),
        "is_default": app is getattr(state_mod, "default_app", None),
        "phase": (record or {}).get("phase"),
        "file": site.get("file"),
        "line": site.get("line"),
        "module": site.get("module"),
        "config_source": (record or {}).get("source"),
        "namespace": (record or {}).get("namespace"),
        "fixups": fixups,
        "settings": settings,
        "config_error": error,
        "tasks": sorted(
            str(n) for n in (getattr(app, "_tasks", None) or {}) if not str(n).startswith("celery.")
        ),
    }


def _call_entries(ids: dict) -> list[dict]:
    merged: dict = {}
    for call in _R.calls:
        app = call.get("app")
        site = call.get("site") or {}
        connects = call.get("connects") or []
        key = (
            call["task"],
            id(app),
            call.get("outcome"),
            call.get("error"),
            site.get("file"),
            site.get("line"),
        )
        entry = merged.get(key)
        if entry is not None:
            entry["count"] += 1
            continue
        broker = call.get("broker")
        backend = call.get("backend")
        merged[key] = {
            "task": call["task"],
            "app_id": ids.get(id(app)) if app is not None else None,
            "outcome": call.get("outcome"),
            "eager": call.get("eager"),
            "broker": broker,
            "broker_target": _target(broker),
            "backend": backend,
            "backend_target": _target(backend),
            "error": call.get("error"),
            "error_side": call.get("error_side"),
            "connected": list(connects),
            "thread": call.get("thread"),
            "phase": call.get("phase"),
            "file": site.get("file"),
            "line": site.get("line"),
            "count": 1,
        }
    return list(merged.values())


def _target(url: str | None) -> str | None:
    if not url:
        return None
    scheme, target = urls.parse_url_target(url)
    if scheme is None or scheme in _IN_PROCESS or scheme.startswith("cache+"):
        return None
    return target


def collect() -> dict:
    """The snapshot's ``brokers.celery`` section (``{"imported": False}`` when nothing used Celery)."""
    if "celery" not in sys.modules:
        return {"imported": False}
    state_mod = sys.modules.get("celery._state")
    apps = _all_apps(state_mod)
    ids = _ids(apps)
    entries = [_app_entry(app, record, ids[id(app)], state_mod) for app, record in apps]
    default = getattr(state_mod, "default_app", None)
    celery_mod = sys.modules.get("celery")
    return {
        "imported": True,
        "version": str(getattr(celery_mod, "__version__", "") or "") or None,
        "instrumented": sorted(_R.instrumented),
        "late": _R.late,
        "default_app": ids.get(id(default)) if default is not None else None,
        "apps": entries,
        "calls": _call_entries(ids),
        "errors": list(_R.errors),
    }
