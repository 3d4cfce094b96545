"""pytest, run in-process with ``--collect-only``, and the snapshot's ``pytest`` section.

Stdlib only, Python 3.9+. Executed inside the audited interpreter as the top-level module
``_tba_pytest``, after start-up. pytest is imported from the target's own site-packages and
run with the :class:`Recorder` plugin registered first, so plugin load order, conftests, the
import timeline and the environment reads (each tagged with the phase the recorder sets) are
real. Nothing is written into the project: the pytest cache goes to a temporary directory.
"""

from __future__ import annotations

import os
import sys

import _tba_nowrite
import _tba_redact as redact
import _tba_tests
import _tba_xdist
from _tba_dists import canonical
from _tba_state import STATE, module_file

__all__ = ["Recorder", "run_pytest", "work_dir"]


def work_dir(request: dict) -> str:
    """The probe's own working directory (next to its output, in the host's temporary one)."""
    work = os.path.join(os.path.dirname(os.path.abspath(request["out"])), "work")
    os.makedirs(work, exist_ok=True)
    return work


def _parse_dash_p(args: list[str]) -> list[str]:
    names = []
    it = iter(args)
    for arg in it:
        if arg == "-p":
            nxt = next(it, None)
            if nxt:
                names.append(nxt)
        elif arg.startswith("-p") and len(arg) > 2:
            names.append(arg[2:])
    return names


class Recorder:
    """The pytest plugin the probe registers first: notes plugins in order and phase changes,
    and keeps pytest's argument list free of output options (:mod:`_tba_nowrite`)."""

    def __init__(self, scrubber=None, request: dict | None = None) -> None:
        self.request = request or {}
        self.xdist_worker = False
        self.plugins: list[tuple[object, str, str]] = []  # (plugin, name, phase)
        self.config = None
        self.errors: list[dict] = []
        self.collected = 0
        self.scrubber = scrubber

    def pytest_addoption(self, parser) -> None:
        if self.scrubber is not None:
            self.scrubber.parser = parser

    def pytest_plugin_registered(self, plugin, manager) -> None:
        if self.scrubber is not None:  # the plugin's options are known now: scrub again
            self.scrubber.apply()
        if plugin is self:
            return
        name = manager.get_name(plugin) or ""
        self.plugins.append((plugin, name, STATE.phase))

    def pytest_load_initial_conftests(self, early_config, args) -> None:
        if self.scrubber is not None:
            self.scrubber.apply(args)
        STATE.phase = "conftest"
        self.xdist_worker = _tba_xdist.become_worker(early_config, self.request)

    def pytest_configure(self, config) -> None:
        STATE.phase = "configure"
        self.config = config

    def pytest_collection(self) -> None:
        STATE.phase = "collection"

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            text = str(getattr(report, "longreprtext", "") or report.longrepr or "")
            lines = [ln for ln in text.strip().splitlines() if ln.strip()]
            message = lines[-1] if lines else "collection failed"
            self.errors.append(
                {"nodeid": report.nodeid or "<rootdir>", "message": redact.redact_text(message)[:500]}
            )

    def pytest_collection_finish(self, session) -> None:
        self.collected = len(getattr(session, "items", []) or [])


def _not_collected(request: dict) -> dict:
    """The ``pytest`` section when the host asked for no collection: whether pytest is
    installed (without importing it: that would run the project's code paths), and why."""
    import importlib.util

    try:
        available = importlib.util.find_spec("pytest") is not None
    except (ImportError, ValueError):
        available = False
    return {"available": available, "not_collected": str(request["no_collection"])}


def run_pytest(request: dict, dist_by_top: dict) -> dict:
    """Run ``pytest --collect-only`` as the request says, with the recorder; the ``pytest`` section."""
    STATE.phase = "pytest-import"
    if request.get("no_collection"):
        return _not_collected(request)
    try:
        import pytest
    except BaseException as exc:
        STATE.error("pytest", f"pytest is not importable here: {type(exc).__name__}: {exc}")
        return {"available": False}
    import tempfile

    args = list(request.get("pytest_args") or [])
    invocation = request.get("invocation", "pytest")
    script = request.get("pytest_script") or "pytest"
    if invocation == "python-m":
        main_file = os.path.join(os.path.dirname(pytest.__file__), "__main__.py")
        sys.argv = [main_file, *args]
    else:
        sys.argv = [script, *args]
    STATE.phase = "plugin-load"
    work = work_dir(request)
    cache_dir = tempfile.mkdtemp(prefix="cache-", dir=work)
    # pytest parses this very list, with addopts and PYTEST_ADDOPTS put in front of it: the
    # recorder takes the output options out of it as the plugins that know them register.
    # ``-q`` is the terminal plugin's option: with ``-p no:terminal`` it is a usage error.
    quiet = [] if "no:terminal" in _parse_dash_p(list(args)) else ["-q"]
    testing = bool(request.get("run_tests"))
    mode = _tba_tests.run_args(request) if testing else ["--collect-only"]
    run_args = [*args, *mode, *quiet, "-o", "cache_dir=" + cache_dir]
    recorder = Recorder(_tba_nowrite.ArgScrubber(run_args, work), request)
    exit_code = None
    raised = None  # an exception pytest.main() let through (a plugin raising while it loads)
    said = _Tee()
    outcomes = _tba_tests.Outcomes((request.get("run_tests") or {}).get("nodeids") or ())
    plugins = _plugins_for(pytest, request, recorder, outcomes if testing else None)
    try:
        with said:
            exit_code = int(pytest.main(run_args, plugins=plugins))
    except SystemExit as exc:
        exit_code = exc.code if isinstance(exc.code, int) else 1
        STATE.error("pytest", f"pytest raised SystemExit({exc.code!r}) during collection")
    except BaseException as exc:
        raised = f"{type(exc).__name__}: {exc}"
        STATE.error("pytest", f"pytest crashed during collection: {raised}{_where(exc)}")
    finally:
        import shutil

        STATE.guard += 1
        shutil.rmtree(cache_dir, ignore_errors=True)
        STATE.guard -= 1
    section = _pytest_section(pytest, recorder, request, exit_code, dist_by_top)
    if testing:
        section["tests"] = outcomes.section()
        section["connections"] = _tba_tests.connections()
    if raised is not None:
        section["crash"] = _crash_line(raised)
    elif exit_code in _CRASH_CODES and not recorder.errors:
        section["crash"] = _crash_line(said.text())
    return section


def _plugins_for(pytest, request: dict, recorder: Recorder, outcomes) -> list:
    """The probe's own plugins: the recorder first; the test oracle's (``outcomes``: a run, not
    a collection); the one that stops before collection for ``config_only``."""
    plugins: list = [recorder]
    if outcomes is not None:
        spec = request.get("run_tests") or {}
        _tba_tests.install_socket_recorder(spec.get("allow"))
        plugins += [_tba_tests.TestFilter(spec.get("nodeids") or (), int(spec.get("first") or 0)), outcomes]
    if request.get("config_only"):
        plugins.append(_config_only_plugin(pytest))
    return plugins


def _where(exc: BaseException) -> str:
    """`` (at FILE:LINE)`` of the innermost frame the exception went through."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return ""
    return f" (at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno})"


class _ConfigOnly:
    """A plugin that ends the session before collection (the request's ``config_only``): the
    host only wants the rootdir and ini file plain ``pytest`` finds, not the tests."""

    def pytest_collection(self) -> bool:
        return True


def _config_only_plugin(pytest) -> object:
    # First of all pytest_collection implementations (its own collects): marked once pytest
    # is imported (the probe imports pytest from the target only when it runs it).
    pytest.hookimpl(tryfirst=True)(_ConfigOnly.pytest_collection)
    return _ConfigOnly()


#: pytest's exit codes for a run that stopped before collecting: interrupted (2), internal
#: error (3), usage error (4: a conftest that raises on import lands here).
_CRASH_CODES = (2, 3, 4)


class _Tee:
    """Keep what pytest prints while it runs (it says why it stopped only there)."""

    def __init__(self) -> None:
        import io

        self._buffer = io.StringIO()
        self._saved: tuple = ()

    def __enter__(self) -> "_Tee":
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = sys.stderr = self._buffer
        return self

    def __exit__(self, *exc) -> None:
        sys.stdout, sys.stderr = self._saved

    def text(self) -> str:
        return self._buffer.getvalue()[-20000:]


def _crash_line(text: str) -> str:
    """The exception pytest stopped on (``KeyError: 'APP_SECRET'``), redacted, else its last line."""
    import re

    lines = [line.strip() for line in text.splitlines() if line.strip()]
    pattern = re.compile(r"^(E\s+)?([\w.]+(Error|Exception|Failure|Exit|Interrupt)|\w+Error)\b.*")
    found = [m.group(0) for m in map(pattern.match, lines) if m]
    chosen = (found or lines or ["pytest stopped before collecting"])[-1]
    return redact.redact_text(re.sub(r"^E\s+", "", chosen))[:300]


def _ini_strings(config, name: str) -> list[str]:
    try:
        return [str(p) for p in config.getini(name)]
    except (ValueError, KeyError):
        return []


def _addopts(config) -> list[str]:
    """``addopts`` of the ini file, then ``PYTEST_ADDOPTS`` (redacted)."""
    try:
        addopts = redact.redact_args([str(a) for a in config.getini("addopts")])
    except (ValueError, KeyError):
        addopts = []
    env_addopts = STATE.env_at_start.get("PYTEST_ADDOPTS", "")
    if env_addopts:
        import shlex

        addopts += redact.redact_args(shlex.split(env_addopts))
    return addopts


def _import_mode(config) -> str | None:
    try:
        return str(config.getoption("importmode"))
    except (ValueError, AttributeError):
        return None


def _unknown_ini_keys(config) -> list[str]:
    getter = getattr(config, "_get_unknown_ini_keys", None)
    if getter is None:
        return []
    try:
        return sorted(getter())
    except Exception:
        return []


def _config_facts(config) -> dict:
    """What pytest's configuration resolved to (read under the guard: not the target's reads)."""
    if config is None:
        return {
            "rootdir": None,
            "inifile": None,
            "addopts": [],
            "import_mode": None,
            "testpaths": [],
            "ini_pythonpath": [],
            "unknown_ini_keys": [],
        }
    STATE.guard += 1
    try:
        rootdir = str(getattr(config, "rootpath", None) or config.rootdir)
        inipath = getattr(config, "inipath", None)
        inifile = (
            str(inipath) if inipath else (str(config.inifile) if getattr(config, "inifile", None) else None)
        )
        return {
            "rootdir": rootdir,
            "inifile": inifile,
            "addopts": _addopts(config),
            "import_mode": _import_mode(config),
            "testpaths": _ini_strings(config, "testpaths"),
            "ini_pythonpath": _ini_strings(config, "pythonpath"),
            "unknown_ini_keys": _unknown_ini_keys(config),
        }
    finally:
        STATE.guard -= 1


def _plugin_distributions(config) -> dict:
    """``{id(plugin): distribution}`` of the plugins loaded from entry points."""
    distinfo: dict = {}
    manager = getattr(config, "pluginmanager", None)
    if manager is not None:
        try:
            for plugin, dist in manager.list_plugin_distinfo():
                dname = getattr(dist, "project_name", None) or (
                    dist.metadata["name"] if hasattr(dist, "metadata") else None
                )
                distinfo[id(plugin)] = canonical(dname) if dname else None
        except Exception:
            pass
    return distinfo


def _builtin_plugin_names() -> set:
    try:
        from _pytest.config import builtin_plugins

        return set(builtin_plugins)
    except ImportError:
        return set()


class _PluginSources:
    """Tells how each plugin got loaded: conftest, entry point, builtin, ``-p``, ..."""

    def __init__(self, config, all_args: list[str], addopts: list[str]) -> None:
        self.dash_p = set(_parse_dash_p(all_args + addopts))
        self.env_plugins = {
            p.strip() for p in STATE.env_at_start.get("PYTEST_PLUGINS", "").split(",") if p.strip()
        }
        self.distinfo = _plugin_distributions(config)
        self.builtin_names = _builtin_plugin_names()

    def how(self, plugin, name: str, module: str, file: str | None, phase: str) -> str:
        if file and os.path.basename(file) == "conftest.py":
            return "conftest"
        if id(plugin) in self.distinfo:
            return "entry-point"
        if module.startswith("_pytest.") or name in self.builtin_names or module == "pytest":
            return "builtin"
        if name in self.dash_p or module in self.dash_p:
            return "-p"
        if name in self.env_plugins or module in self.env_plugins:
            return "PYTEST_PLUGINS"
        if phase in ("conftest", "configure", "collection"):
            return "pytest_plugins"
        return "other"


def _plugins(recorder: Recorder, sources: _PluginSources, dist_by_top: dict) -> tuple[list, list]:
    """The plugins pytest registered, in order, and the conftest files among them."""
    plugins, conftests = [], []
    seen_ids = set()
    for plugin, name, phase in recorder.plugins:
        if id(plugin) in seen_ids:
            continue
        seen_ids.add(id(plugin))
        module = getattr(plugin, "__name__", None) if isinstance(plugin, type(sys)) else None
        file = module_file(plugin) if module else None
        if module is None:
            # Objects (config, session, terminal reporter...) registered by pytest itself.
            owner = type(plugin).__module__
            if owner.startswith(("_pytest", "pytest", "pluggy", "_tba_")):
                continue
            module = owner
        how = sources.how(plugin, name, module, file, phase)
        if how == "conftest":
            conftests.append(file)
        top = module.partition(".")[0]
        plugins.append(
            {
                "name": name,
                "module": module,
                "file": file,
                "distribution": sources.distinfo.get(id(plugin)) or dist_by_top.get(top),
                "how": how,
            }
        )
    return plugins, conftests


def _pytest_section(pytest, recorder: Recorder, request: dict, exit_code, dist_by_top: dict) -> dict:
    all_args = list(request.get("pytest_args") or [])
    facts = _config_facts(recorder.config)
    sources = _PluginSources(recorder.config, all_args, facts["addopts"])
    plugins, conftests = _plugins(recorder, sources, dist_by_top)
    return {
        "available": True,
        "version": getattr(pytest, "__version__", None),
        "invocation": request.get("invocation", "pytest"),
        "args": redact.redact_args(all_args),
        "rootdir": facts["rootdir"],
        "inifile": facts["inifile"],
        "addopts": facts["addopts"],
        "import_mode": facts["import_mode"],
        "testpaths": facts["testpaths"],
        "ini_pythonpath": facts["ini_pythonpath"],
        "unknown_ini_keys": facts["unknown_ini_keys"],
        "plugins": plugins,
        "conftests": conftests,
        "collection_errors": recorder.errors,
        "collected": recorder.collected,
        "exit_code": exit_code,
        "xdist_worker": recorder.xdist_worker,
    }
