"""The probe: runs INSIDE the audited interpreter and writes one snapshot as JSON.

Usage (by the host, never by hand)::

    TARGET_PYTHON -S .../probe/_tba_main.py REQUEST.json

Stdlib only, Python 3.9+. The design is explained in ``docs/architecture.md`` (section "The
probe"); in short:

Why ``-S``: the interpreter's own start-up (``site``: ``.pth`` files, ``sitecustomize``,
``usercustomize``) is the first thing we must *observe*, so we start without it, install our
recorders (environment reads, imports, dramatiq brokers), then run ``site.main()`` exactly as
start-up would, and only then emulate ``sys.path[0]`` of the real invocation (CPython prepends
it after ``site`` ran). The probe directory itself is removed from ``sys.path`` before any of
that: the host's site-packages never reach the target.

Recording before importing: the very first thing this file does is note which modules the
bare interpreter has loaded (``_PRE_MODULES``); everything loaded later was loaded by start-up
or by the tests' tooling. The probe modules are all imported right below, before the probe
directory leaves ``sys.path``, and they import at module level only what this file needs
anyway (``os``, ``sys``, ``json``, ``time``, and ``hashlib``/``hmac``/``re`` for redaction):
every other stdlib module is imported lazily, where it is used, so that the target imports
it itself, visibly. All probe modules are named ``_tba_*`` because they live in the target's
``sys.modules``: the recorders leave them (and ``__main__``, this file) out of what they
record, and skip frames in ``_tba_*`` files when they look for the code that acted.

Then pytest is imported from the target's own site-packages and run in-process with
``--collect-only`` and a recorder plugin, so plugin load order, conftests, the import
timeline and the environment reads are real. Nothing is written into the project: the
pytest cache goes to a temporary directory and byte-code writing is switched off after the
interpreter flags were recorded.

The modules, one per concern: ``_tba_state`` (the shared recording state), ``_tba_environ``
(``os.environ`` tracer), ``_tba_site`` (start-up, ``sys.path``, interpreter), ``_tba_imports``
(import recorder), ``_tba_dists`` (distributions), ``_tba_pytest`` (pytest run),
``_tba_brokers`` with ``_tba_dramatiq``, ``_tba_urls`` and ``_tba_reach`` (brokers),
``_tba_redact`` and ``_tba_schema``. The host imports only ``_tba_redact``, ``_tba_schema``
and ``_tba_urls``.
"""

from __future__ import annotations

import sys

_PRE_MODULES = frozenset(sys.modules)

import json  # noqa: E402 - the start-up module set is recorded first, on purpose
import os  # noqa: E402
import time  # noqa: E402

# Under -P or -I (the test command's own flags, carried over) Python puts no script directory
# on sys.path: put ours there for our imports; it leaves sys.path with the rest below.
if getattr(sys.flags, "safe_path", False):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
_PROBE_DIR = sys.path[0] if sys.path else ""

_T0 = time.perf_counter()

import _tba_dists  # noqa: E402
import _tba_environ  # noqa: E402
import _tba_experiment  # noqa: E402
import _tba_files  # noqa: E402
import _tba_imports  # noqa: E402
import _tba_nowrite  # noqa: E402
import _tba_pytest  # noqa: E402
import _tba_redact as redact  # noqa: E402
import _tba_site  # noqa: E402
from _tba_schema import SCHEMA, SCHEMA_VERSION  # noqa: E402
from _tba_state import STATE  # noqa: E402

try:  # broker introspection is optional: the probe works without it
    import _tba_brokers as brokers_mod
except ImportError:  # pragma: no cover - shipped together
    brokers_mod = None  # type: ignore[assignment]

# The environment as the interpreter got it, before any of the target's code ran.
STATE.env_at_start = dict(os.environ)
# Its secret values are hidden wherever they turn up (an error message, a .pth line).
redact.learn(STATE.env_at_start)


def _read_request(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        request: dict = json.load(fh)
    return request


def _remove_probe_dir() -> None:
    """Leave no trace of the probe on sys.path: the target sees only its own world."""
    while sys.path and sys.path[0] == _PROBE_DIR:
        del sys.path[0]


def _install_recorders(request: dict) -> None:
    """Environment, imports, dramatiq: watched from before start-up on."""
    _tba_environ.install_environ_tracer()
    _tba_files.install(request.get("project_root") or os.getcwd())
    sys.meta_path.insert(0, _tba_imports.ImportRecorder())
    if brokers_mod is not None and request.get("brokers", True):
        try:
            brokers_mod.install(STATE)
        except Exception as exc:
            STATE.error("brokers", f"could not instrument dramatiq: {type(exc).__name__}: {exc}")


def _start_up(request: dict) -> tuple[dict, str | None, set]:
    """Start-up as the real command has it: ``site``, then ``sys.path[0]`` of the invocation.

    Returns what ``site`` did, the ``sys.path[0]`` entry (or ``None``) and the modules loaded
    since the probe started.
    """
    info = _tba_site.startup_info(request)
    _tba_experiment.run_files(request)
    STATE.phase = "pytest-import"
    invocation_entry = _tba_site.invocation_entry_of(request)
    info["invocation"] = request.get("invocation", "pytest")
    if invocation_entry is not None:
        sys.path.insert(0, invocation_entry)
    _tba_experiment.prepend(request, after_first=invocation_entry is not None)
    info["startup_path"] = list(sys.path)
    return info, invocation_entry, set(sys.modules) - _PRE_MODULES


def _inventory(request: dict) -> tuple:
    """``(is_stdlib, interpreter section, distributions)``, read under the guard."""
    STATE.guard += 1
    try:
        is_stdlib = _tba_imports.stdlib_checker()
        interpreter = _tba_site.interpreter_section(request)
        try:
            # A configuration-only probe is asked where pytest's rootdir and ini file are, nothing more.
            dists = [] if request.get("config_only") else _tba_dists.distributions(list(sys.path))
        except Exception as exc:
            dists = []
            STATE.error(
                "distributions", f"could not read installed distributions: {type(exc).__name__}: {exc}"
            )
    finally:
        STATE.guard -= 1
    return is_stdlib, interpreter, dists


def _brokers_section(request: dict) -> dict:
    brokers: dict = {"captured": False}
    if brokers_mod is not None and request.get("brokers", True) and not request.get("config_only"):
        try:
            brokers = brokers_mod.collect(STATE, dict(STATE.env_at_start), request)
        except Exception as exc:
            STATE.error("brokers", f"broker introspection failed: {type(exc).__name__}: {exc}")
    return brokers


def _sys_path_section(info: dict, invocation_entry: str | None, pytest_section: dict) -> list[dict]:
    rootdir = pytest_section.get("rootdir")
    ini_paths = [os.path.join(rootdir or "", p) for p in pytest_section.get("ini_pythonpath", [])]
    return _tba_site.sys_path_entries(info, invocation_entry, list(sys.path), ini_paths, rootdir)


def _hostname() -> str:
    import socket

    try:
        return socket.gethostname()
    except OSError:
        return "unknown"


def _source(request: dict) -> dict:
    """Where the snapshot comes from; its description quotes the front door's command."""
    source = dict(request.get("source") or {"kind": "cli", "name": None, "description": ""})
    source["description"] = redact.redact_text(str(source.get("description") or ""))
    return source


def _meta(request: dict) -> dict:
    return {
        "tool_version": request.get("tool_version", "unknown"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": _hostname(),
        "source": _source(request),
        "invocation": request.get("invocation", "pytest"),
        "command": redact.redact_args(request.get("command") or []),
        "cwd": os.getcwd(),
        "duration_s": round(time.perf_counter() - _T0, 4),
        "project_root": request.get("project_root"),
    }


def _snapshot(request: dict, key: bytes, sections: dict) -> dict:
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "meta": _meta(request),
        "interpreter": sections["interpreter"],
        "environ": _tba_environ.environ_section(key),
        "sys_path": sections["sys_path"],
        "startup": sections["startup"],
        "distributions": sections["distributions"],
        "pytest": sections["pytest"],
        "imports": sections["imports"],
        "brokers": sections["brokers"],
        "errors": STATE.errors,
        "opens": _tba_files.opens_section(),
    }


def _forget_our_variables() -> None:
    """A variable only the probe set (``COVERAGE_FILE``, :func:`_tba_nowrite.redirect_environment`)
    is the probe's plumbing: a library that reads every variable read it, the run did not."""
    ours = {name for name in _tba_nowrite.PROBE_VARIABLES if name not in STATE.env_at_start}
    STATE.reads[:] = [read for read in STATE.reads if read.get("name") not in ours]


def _write(snapshot: dict, out_path: str) -> None:
    tmp = out_path + ".tmp"
    # Compact, in one piece: json's C encoder (json.dump and indent= use the pure-Python one);
    # only the host reads this file, and writes its artefacts itself.
    text = json.dumps(snapshot)
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, out_path)


def _guard_writes(request: dict, out_path: str) -> None:
    """From here on nothing the target runs may write into the project (``_tba_nowrite``)."""
    project = [request.get("project_root") or "", os.getcwd()]
    allowed = [os.path.dirname(os.path.abspath(out_path)), sys.prefix, sys.exec_prefix]
    try:
        _tba_nowrite.install_write_guard(project, allowed, lambda message: STATE.error("writes", message))
    except Exception as exc:
        STATE.error("writes", f"could not guard the project against writes: {type(exc).__name__}: {exc}")


def main(argv: list[str]) -> int:
    request = _read_request(argv[1])
    key = bytes.fromhex(request["key"])
    out_path = request["out"]
    _remove_probe_dir()
    # Coverage into the working directory (the environment was recorded at import time).
    _tba_nowrite.redirect_environment(_tba_pytest.work_dir(request))
    _install_recorders(request)
    info, invocation_entry, startup_loaded = _start_up(request)

    # From here on our own work must not write byte-code into the project.
    sys.dont_write_bytecode = True
    is_stdlib, interpreter, dists = _inventory(request)
    dist_by_top = _tba_dists.dist_by_top(dists)
    sections = {
        "interpreter": interpreter,
        "distributions": dists,
        "startup": _tba_site.startup_section(info, startup_loaded, is_stdlib),
    }
    _guard_writes(request, out_path)
    sections["pytest"] = _tba_pytest.run_pytest(request, dist_by_top)
    STATE.phase = "collection"
    STATE.guard += 1
    try:
        sections["brokers"] = _brokers_section(request)
        project_root = request.get("project_root") or os.getcwd()
        sections["imports"] = _tba_imports.imports_section(is_stdlib, project_root, dist_by_top)
        sections["sys_path"] = _sys_path_section(info, invocation_entry, sections["pytest"])
        _forget_our_variables()
        _write(_snapshot(request, key, sections), out_path)
    finally:
        STATE.guard -= 1
    return 0


if __name__ == "__main__":
    _code = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter shutdown work of the audited code (atexit handlers of the project,
    # dramatiq's broker closing...): they are not part of what we measure and may hang.
    os._exit(_code)
