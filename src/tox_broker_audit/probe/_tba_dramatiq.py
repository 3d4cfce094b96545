"""dramatiq instrumentation: who creates brokers, who sets the global one, where actors are made.

Stdlib only, Python 3.9+. Executed inside the audited interpreter as the top-level module
``_tba_dramatiq``; ``_tba_brokers.install`` calls :func:`install` before interpreter start-up
(``site``) and before anything that is not stdlib is imported.

:func:`install` puts a meta-path hook in front of the import system that waits for
``dramatiq.broker`` and ``dramatiq.actor`` to be *executed* and then wraps, in place,
``Broker.__init__`` (every broker creation: class, phase, the first frame outside the
libraries, whether it is dramatiq's implicit default made by ``get_broker()``), ``set_broker``
(who set the global broker, when) and ``Actor.__init__`` (when and where each actor was
declared). The wrappers call through, return what the originals return and never swallow an
exception: dramatiq behaves exactly as without us. What they saw is kept in :data:`RECORDS`,
which ``_tba_brokers.collect`` turns into the snapshot's ``brokers`` section.

Modules are imported lazily (``weakref``, ``functools``...): at start-up the probe must not load
what the target would load itself.
"""

from __future__ import annotations

import sys

__all__ = ["RECORDS", "DramatiqHook", "install", "watch_modules"]

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


class Records:
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


RECORDS = Records()


# --------------------------------------------------------------------------- helpers


def _guard(delta: int) -> None:
    state = RECORDS.state
    if state is not None:
        state.guard += delta


def _phase() -> str:
    state = RECORDS.state
    return getattr(state, "phase", None) or "unknown"


def _ref(obj):
    """A weak reference when possible (we must not keep the target's objects alive)."""
    try:
        import weakref

        return weakref.ref(obj)
    except TypeError:
        return lambda: obj


def _stdlib_dir() -> str:
    if RECORDS.stdlib_dir is None:
        import os

        RECORDS.stdlib_dir = os.path.dirname(os.path.abspath(os.__file__)) + os.sep
    return RECORDS.stdlib_dir


def _is_library_frame(frame, plumbing: bool) -> bool:
    filename = frame.f_code.co_filename
    if "_tba_" in filename or filename.startswith("<frozen"):
        return True
    if filename in ("<string>", "<stdin>") and getattr(RECORDS.state, "startup_origin", None):
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
    origin = getattr(RECORDS.state, "startup_origin", None)
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
        if frame.f_code in RECORDS.get_broker_codes:
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
    if len(RECORDS.creations) >= _MAX_RECORDS:
        return
    for record in RECORDS.creations:
        if record["ref"]() is broker:  # a subclass calling Broker.__init__ twice
            return
    first, stack, implicit = _call_sites(sys._getframe(1))
    RECORDS.creations.append(
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
    if len(RECORDS.set_calls) >= _MAX_RECORDS:
        return
    first, _stack, implicit = _call_sites(sys._getframe(1))
    RECORDS.set_calls.append(
        {
            "ref": _ref(broker),
            "class": type(broker).__name__,
            "phase": _phase(),
            "implicit_default": implicit,
            "site": first,
        }
    )


def _note_actor(actor, fn) -> None:
    if len(RECORDS.actors) >= _MAX_RECORDS:
        return
    code = getattr(getattr(fn, "__wrapped__", fn), "__code__", None)
    first, _stack, _implicit = _call_sites(sys._getframe(1))
    RECORDS.actors.append(
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
    wrapper.__tba_wrapped__ = True  # type: ignore[attr-defined]  # our mark: never wrapped twice
    return wrapper


def _record(callback, args, kwargs) -> None:
    _guard(1)
    try:
        callback(args, kwargs)
    except Exception as exc:  # recording must never break the target
        if len(RECORDS.errors) < 20:
            RECORDS.errors.append(f"recording failed: {type(exc).__name__}: {exc}")
    finally:
        _guard(-1)


def _patch_broker_module(module) -> None:
    broker_cls = getattr(module, "Broker", None)
    get_broker = getattr(module, "get_broker", None)
    set_broker = getattr(module, "set_broker", None)
    if broker_cls is None or get_broker is None or set_broker is None:
        RECORDS.errors.append("dramatiq.broker has no Broker/get_broker/set_broker: not instrumented")
        return
    RECORDS.broker_module = module
    code = getattr(getattr(get_broker, "__wrapped__", get_broker), "__code__", None)
    if code is not None:
        RECORDS.get_broker_codes.add(code)
    init = broker_cls.__dict__.get("__init__")
    if init is not None and not getattr(init, "__tba_wrapped__", False):
        broker_cls.__init__ = _wrap(init, before=lambda a, _k: _note_creation(a[0]) if a else None)
    if not getattr(set_broker, "__tba_wrapped__", False):
        # get_broker() calls set_broker through the module global: it sees the wrapper too.
        module.set_broker = _wrap(set_broker, after=lambda a, k: _note_set(a[0] if a else k.get("broker")))
    RECORDS.instrumented = True


def _patch_actor_module(module) -> None:
    actor_cls = getattr(module, "Actor", None)
    init = getattr(actor_cls, "__dict__", {}).get("__init__") if actor_cls is not None else None
    if init is None or getattr(init, "__tba_wrapped__", False):
        return
    actor_cls.__init__ = _wrap(  # type: ignore[misc]  # the class's own __init__, found in its __dict__
        init, after=lambda a, k: _note_actor(a[0], a[1] if len(a) > 1 else k.get("fn"))
    )


_PATCHERS = {"dramatiq.broker": _patch_broker_module, "dramatiq.actor": _patch_actor_module}
#: Where a patcher's failure is said: the dramatiq records', or the list ``watch_modules`` gave.
_ERRORS: dict = {}


def _apply(name: str, module) -> None:
    _guard(1)
    try:
        _PATCHERS[name](module)
    except Exception as exc:
        _ERRORS.get(name, RECORDS.errors).append(f"could not instrument {name}: {type(exc).__name__}: {exc}")
    finally:
        _guard(-1)


def watch_modules(patchers: dict, errors: list) -> None:
    """Instrument more modules the same way (``_tba_celery``): each ``patchers[name](module)``
    runs right after the target's import executed ``name``, or now if it already did; a
    patcher's failure is appended to ``errors``. Call after :func:`install`."""
    for name, patcher in patchers.items():
        _PATCHERS[name] = patcher
        _ERRORS[name] = errors
        module = sys.modules.get(name)
        if module is not None:
            _apply(name, module)


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
                    del loader.exec_module  # type: ignore[union-attr]  # not None: it had exec_module
                except AttributeError:
                    pass
            _apply(fullname, module)
            return None

        try:
            loader.exec_module = exec_module  # type: ignore[union-attr]  # this loader instance only, removed after use
        except (AttributeError, TypeError):
            RECORDS.errors.append(f"cannot instrument {fullname}: its loader does not allow it")
        return spec

    def invalidate_caches(self) -> None:
        return None


def install(state) -> None:
    """Start watching for dramatiq. Called once, before ``site`` runs."""
    RECORDS.state = state
    # Already imported (e.g. from inside a running pytest): late.
    for name in ("dramatiq.broker", "dramatiq.actor"):
        module = sys.modules.get(name)
        if module is not None:
            RECORDS.late = True
            _apply(name, module)
    if RECORDS.late:
        RECORDS.errors.append(
            "dramatiq was imported before the audit could watch it: creations before now are unknown"
        )
    sys.meta_path.insert(0, DramatiqHook())
