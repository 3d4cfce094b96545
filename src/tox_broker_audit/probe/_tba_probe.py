"""The probe: runs INSIDE the audited interpreter and writes one snapshot as JSON.

Usage (by the host, never by hand)::

    TARGET_PYTHON -S .../probe/_tba_probe.py REQUEST.json

Stdlib only, Python 3.9+. Why ``-S``: the interpreter's own start-up (``site``: ``.pth``
files, ``sitecustomize``, ``usercustomize``) is the first thing we must *observe*, so we start
without it, install our recorders (environment reads, imports, dramatiq brokers), then run
``site.main()`` exactly as start-up would, and only then emulate ``sys.path[0]`` of the real
invocation (CPython prepends it after ``site`` ran). The probe directory itself is removed
from ``sys.path`` before any of that: the host's site-packages never reach the target.

Then pytest is imported from the target's own site-packages and run in-process with
``--collect-only`` and a recorder plugin, so plugin load order, conftests, the import
timeline and the environment reads are real. Nothing is written into the project: the
pytest cache goes to a temporary directory and byte-code writing is switched off after the
interpreter flags were recorded.
"""

from __future__ import annotations

import sys

_PRE_MODULES = frozenset(sys.modules)
_PROBE_DIR = sys.path[0] if sys.path else ""

import json  # noqa: E402 - the start-up module set is recorded first, on purpose
import os  # noqa: E402
import time  # noqa: E402

_T0 = time.perf_counter()

import _tba_redact as redact  # noqa: E402

try:  # broker introspection is optional: the probe works without it
    import _tba_brokers as brokers_mod
except ImportError:  # pragma: no cover - shipped together
    brokers_mod = None  # type: ignore[assignment]

_OWN_MODULES = ("_tba_", "__main__")
_SKIP_FILE_PARTS = (
    "<frozen os>",
    "<frozen importlib",
    "<frozen _collections_abc>",
    "<frozen posixpath>",
    "importlib/",
    "_collections_abc.py",
    "_tba_",
)
_MAX_READS = 5000
_BULK_READ_NAMES = 15


# --------------------------------------------------------------------------- shared state


class State:
    """Mutable recording state of one probe run (the probe is a script: one instance)."""

    def __init__(self) -> None:
        self.phase = "startup"
        self.startup_origin: str | None = None  # the .pth / sitecustomize being processed
        self.reads: list[dict] = []
        self.writes: list[dict] = []
        self.read_keys: set = set()
        self.imports: list[dict] = []
        self.errors: list[dict] = []
        self.guard = 0  # >0 while our own code touches os.environ / imports

    def error(self, section: str, message: str) -> None:
        self.errors.append({"section": section, "message": redact.redact_text(message)})


STATE = State()


def _interesting_frame(depth: int = 2):
    """First frame outside os/importlib/abc machinery and the probe: the code that acted."""
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return None
    os_file = getattr(os, "__file__", None) or "<frozen os>"
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename not in (os_file, "<frozen os>") and not any(p in filename for p in _SKIP_FILE_PARTS):
            return frame
        frame = frame.f_back
    return None


def _frame_info(frame) -> tuple[str | None, int | None, str | None]:
    if frame is None:
        return None, None, None
    filename = frame.f_code.co_filename
    module = frame.f_globals.get("__name__")
    if filename in ("<string>", "<stdin>") and STATE.startup_origin:
        return STATE.startup_origin, None, module
    return filename, frame.f_lineno, module


# --------------------------------------------------------------------------- environment reads


def _record_read(name: object, present: bool, how: str) -> None:
    if how == "get":
        # os.getenv(k) is environ.get(k): report it as getenv when that is what the code called.
        caller = sys._getframe(2)
        if caller.f_code.co_name == "getenv":
            how = "getenv"
    _record(STATE.reads, name, how, {"present": present})


def _record_write(name: object, how: str, value: object = None) -> None:
    shown = None
    if isinstance(name, str) and isinstance(value, str):
        shown = redact.redact_value(name, value)[0]
    _record(STATE.writes, name, how, {"value": shown})


def _record(records: list, name: object, how: str, extra: dict) -> None:
    """Note one access to os.environ by the first frame outside os/abc/probe machinery."""
    if STATE.guard or not isinstance(name, str) or len(records) >= _MAX_READS:
        return
    frame = _interesting_frame(4)
    file, line, module = _frame_info(frame)
    key = (id(records), name, how, STATE.phase, file, line)
    if key in STATE.read_keys:
        return
    STATE.read_keys.add(key)
    entry = {"name": name, "how": how, "phase": STATE.phase, "file": file, "line": line, "module": module}
    entry.update(extra)
    records.append(entry)


def _install_environ_tracer() -> None:
    environ_cls = type(os.environ)

    class TracingEnviron(environ_cls):  # type: ignore[misc, valid-type]
        def __getitem__(self, key):
            try:
                value = super().__getitem__(key)
            except KeyError:
                _record_read(key, False, "getitem")
                raise
            _record_read(key, True, "getitem")
            return value

        def get(self, key, default=None):
            STATE.guard += 1
            try:
                present = _contains(self, key)
            finally:
                STATE.guard -= 1
            _record_read(key, present, "get")
            STATE.guard += 1
            try:
                return super().get(key, default)
            finally:
                STATE.guard -= 1

        def __contains__(self, key):
            STATE.guard += 1
            try:
                present = _contains(self, key)
            finally:
                STATE.guard -= 1
            _record_read(key, present, "contains")
            return present

        def __setitem__(self, key, value):
            _record_write(key, "setitem", value)
            STATE.guard += 1
            try:
                super().__setitem__(key, value)
            finally:
                STATE.guard -= 1

        def __delitem__(self, key):
            _record_write(key, "delitem")
            STATE.guard += 1
            try:
                super().__delitem__(key)
            finally:
                STATE.guard -= 1

        def pop(self, key, *default):
            present = _contains(self, key)
            _record_read(key, present, "pop")
            if present:
                _record_write(key, "pop")
            STATE.guard += 1
            try:
                return super().pop(key, *default)
            finally:
                STATE.guard -= 1

        def setdefault(self, key, value):
            present = _contains(self, key)
            _record_read(key, present, "setdefault")
            if not present:
                _record_write(key, "setdefault", value)
            STATE.guard += 1
            try:
                return super().setdefault(key, value)
            finally:
                STATE.guard -= 1

        def copy(self):
            STATE.guard += 1
            try:
                return dict(self)
            finally:
                STATE.guard -= 1

    def _contains(env, key) -> bool:
        try:
            environ_cls.__getitem__(env, key)
        except KeyError:
            return False
        return True

    os.environ.__class__ = TracingEnviron


def _collapse_bulk_reads(reads: list[dict]) -> list[dict]:
    """``dict(os.environ)`` reads every variable from one line: keep one ``*`` entry for it."""
    per_site: dict = {}
    for read in reads:
        per_site.setdefault((read["file"], read["line"], read["phase"]), set()).add(read["name"])
    bulk = {site for site, names in per_site.items() if len(names) > _BULK_READ_NAMES}
    out, seen = [], set()
    for read in reads:
        site = (read["file"], read["line"], read["phase"])
        if site in bulk:
            if site in seen:
                continue
            seen.add(site)
            read = dict(read, name="*", present=True)
        out.append(read)
    return out


# --------------------------------------------------------------------------- imports


class ImportRecorder:
    """A meta-path finder that finds nothing: it only notes who imports what, and when."""

    def find_spec(self, fullname, path=None, target=None):
        if not STATE.guard and not fullname.startswith(_OWN_MODULES):
            file, line, module = _frame_info(_interesting_frame(2))
            STATE.imports.append(
                {
                    "module": fullname,
                    "phase": STATE.phase,
                    "importer": module,
                    "importer_file": file,
                    "importer_line": line,
                }
            )

    def invalidate_caches(self) -> None:
        return None


def _stdlib_checker():
    import sysconfig

    names = getattr(sys, "stdlib_module_names", None)
    builtin = set(sys.builtin_module_names)
    paths = sysconfig.get_paths()
    stdlib_dirs = tuple(
        os.path.normcase(os.path.realpath(p)) for p in {paths.get("stdlib"), paths.get("platstdlib")} if p
    )

    def is_stdlib(name: str, file: str | None) -> bool:
        top = name.partition(".")[0]
        if top in builtin:
            return True
        if names is not None:
            return top in names
        if file is None:
            return True
        real = os.path.normcase(os.path.realpath(file))
        return real.startswith(stdlib_dirs) and "site-packages" not in real and "dist-packages" not in real

    return is_stdlib


def _module_file(module) -> str | None:
    file = getattr(module, "__file__", None)
    if isinstance(file, str):
        return os.path.abspath(file)
    return None


# --------------------------------------------------------------------------- start-up

_KNOWN_PTH = (
    ("_virtualenv.pth", "virtualenv"),
    ("distutils-precedence.pth", "setuptools"),
    ("easy-install.pth", "setuptools-develop"),
    ("coverage", "coverage"),
    ("__editable__.", "editable-install"),
    ("-nspkg.pth", "namespace-package"),
    ("pywin32.pth", "pywin32"),
    ("matplotlib", "matplotlib"),
    ("_uv_ephemeral", "uv"),
)


def _known_pth(name: str, exec_lines: list[str], path_lines: list[str]) -> str | None:
    for needle, label in _KNOWN_PTH:
        if needle in name:
            if label == "coverage" and not any("coverage" in line for line in exec_lines):
                continue
            return label
    # hatchling / pdm / uv editable installs: ``_<project>.pth`` holding one source path.
    if name.startswith("_") and not exec_lines and len(path_lines) == 1:
        return "editable-install"
    return None


def _read_pth(path: str) -> tuple[list[str], list[str]]:
    path_lines, exec_lines = [], []
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError:
        return path_lines, exec_lines
    text = raw.decode("utf-8-sig", "replace")
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line.startswith(("import ", "import\t")):
            exec_lines.append(redact.redact_text(line.rstrip()))
        else:
            path_lines.append(line.rstrip())
    return path_lines, exec_lines


def _run_site(info: dict) -> None:
    """Run ``site.main()`` as start-up would, recording what every step did."""
    import site

    pth_records: list[dict] = []
    customize: dict = {}
    added_by: dict = {}
    original_addpackage = site.addpackage
    original_sitecustomize = getattr(site, "execsitecustomize", None)
    original_usercustomize = getattr(site, "execusercustomize", None)

    def addpackage(sitedir, name, known_paths):
        fullname = os.path.join(sitedir, name)
        before_path = list(sys.path)
        before_modules = set(sys.modules)
        STATE.startup_origin = fullname
        try:
            return original_addpackage(sitedir, name, known_paths)
        finally:
            STATE.startup_origin = None
            _note_pth(fullname, name, before_path, before_modules)

    def _note_pth(fullname, name, before_path, before_modules):
        added = [p for p in sys.path if p not in before_path]
        for entry in added:
            added_by[entry] = fullname
        imported = sorted(m for m in set(sys.modules) - before_modules if not m.startswith(_OWN_MODULES))
        previous = next((rec for rec in pth_records if rec["path"] == fullname), None)
        if previous is not None:
            # CPython 3.11+ processes a venv's site-packages twice (site.venv() and main()):
            # keep one record of the file with everything it did.
            previous["added_paths"] += [p for p in added if p not in previous["added_paths"]]
            previous["imported"] = sorted(set(previous["imported"]) | set(imported))
            return
        path_lines, exec_lines = _read_pth(fullname)
        pth_records.append(
            {
                "path": fullname,
                "name": name,
                "path_lines": path_lines,
                "exec_lines": exec_lines,
                "known": _known_pth(name, exec_lines, path_lines),
                "added_paths": added,
                "imported": imported,
                "processed": True,
            }
        )

    def wrap_customize(module_name: str, original):
        def run():
            before_modules = set(sys.modules)
            STATE.startup_origin = module_name
            try:
                original()
            except BaseException as exc:  # site itself swallows most; record anything left
                customize[module_name + "_error"] = f"{type(exc).__name__}: {exc}"
            finally:
                STATE.startup_origin = None
            mod = sys.modules.get(module_name)
            file = _module_file(mod) if mod is not None else None
            if file is None:
                file = _find_customize_file(module_name)
            if mod is None and file is None:
                return
            sha = None
            if file and os.path.isfile(file):
                import hashlib

                with open(file, "rb") as fh:
                    sha = hashlib.sha256(fh.read()).hexdigest()
            customize[module_name] = {
                "module": module_name,
                "path": file,
                "sha256": sha,
                "imported": sorted(
                    m
                    for m in set(sys.modules) - before_modules
                    if m != module_name and not m.startswith(_OWN_MODULES)
                ),
                "error": customize.get(module_name + "_error")
                or (None if mod is not None else "import failed"),
            }

        return run

    before_site = list(sys.path)
    site.addpackage = addpackage
    if original_sitecustomize is not None:
        site.execsitecustomize = wrap_customize("sitecustomize", original_sitecustomize)
    if original_usercustomize is not None:
        site.execusercustomize = wrap_customize("usercustomize", original_usercustomize)
    try:
        site.main()
    except BaseException as exc:
        STATE.error("startup", f"site.main() failed: {type(exc).__name__}: {exc}")
    finally:
        site.addpackage = original_addpackage
        if original_sitecustomize is not None:
            site.execsitecustomize = original_sitecustomize
        if original_usercustomize is not None:
            site.execusercustomize = original_usercustomize
    info["pth"] = pth_records
    info["customize"] = customize
    info["added_by"] = added_by
    info["before_site"] = before_site
    info["user_site"] = getattr(site, "USER_SITE", None)
    info["user_site_enabled"] = bool(getattr(site, "ENABLE_USER_SITE", False))
    info["site_dirs"] = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []


def _find_customize_file(module_name: str) -> str | None:
    import importlib.util

    STATE.guard += 1
    try:
        spec = importlib.util.find_spec(module_name)
    except Exception:
        return None
    finally:
        STATE.guard -= 1
    return os.path.abspath(spec.origin) if spec is not None and spec.origin else None


def _unprocessed_pth(info: dict) -> list[dict]:
    """``.pth`` files lying in site directories that start-up did not process (e.g. -S, user site off)."""
    seen = {rec["path"] for rec in info["pth"]}
    out = []
    for sitedir in info["site_dirs"]:
        try:
            names = sorted(os.listdir(sitedir))
        except OSError:
            continue
        for name in names:
            full = os.path.join(sitedir, name)
            if name.endswith(".pth") and full not in seen:
                path_lines, exec_lines = _read_pth(full)
                out.append(
                    {
                        "path": full,
                        "name": name,
                        "path_lines": path_lines,
                        "exec_lines": exec_lines,
                        "known": _known_pth(name, exec_lines, path_lines),
                        "added_paths": [],
                        "imported": [],
                        "processed": False,
                    }
                )
    return out


# --------------------------------------------------------------------------- sections


def _interpreter(request: dict) -> dict:
    import platform

    cfg: dict = {}
    cfg_path = os.path.join(sys.prefix, "pyvenv.cfg")
    try:
        with open(cfg_path, encoding="utf-8") as fh:
            for line in fh:
                key, sep, value = line.partition("=")
                if sep:
                    cfg[key.strip()] = redact.redact_text(value.strip())
    except OSError:
        pass
    creator = None
    if cfg:
        if "uv" in cfg:
            creator = "uv"
        elif "virtualenv" in cfg:
            creator = "virtualenv"
        else:
            creator = "venv"
    flags = {}
    for name in dir(sys.flags):
        if name.startswith("_") or name in (
            "count",
            "index",
            "n_fields",
            "n_sequence_fields",
            "n_unnamed_fields",
        ):
            continue
        value = getattr(sys.flags, name)
        if isinstance(value, (bool, int)):
            flags[name] = int(value)
    # We start the target with -S ourselves and run site.main(); the real command does not.
    flags["no_site"] = int(request.get("no_site", 0))
    return {
        "executable": sys.executable,
        "version": platform.python_version(),
        "implementation": sys.implementation.name,
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "in_venv": sys.prefix != getattr(sys, "base_prefix", sys.prefix),
        "venv_creator": creator,
        "pyvenv_cfg": cfg,
        "flags": flags,
        "hashseed": _ENV_AT_START.get("PYTHONHASHSEED"),
        "platform": sys.platform,
    }


def _environ(key: bytes, reads: list[dict]) -> dict:
    variables = []
    for name in sorted(_ENV_AT_START):
        value = _ENV_AT_START[name]
        shown, secret = redact.redact_value(name, value)
        variables.append(
            {
                "name": name,
                "value": shown,
                "secret": secret,
                "fingerprint": redact.fingerprint(key, name + "\0" + value),
            }
        )
    return {
        "variables": variables,
        "reads": _collapse_bulk_reads(reads),
        "writes": STATE.writes,
        "fingerprint_key_id": redact.key_id(key),
    }


def _canonical(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def _distributions(path: list[str]) -> list[dict]:
    from importlib import metadata
    from urllib.parse import unquote, urlparse

    out = []
    seen: set = set()
    for dist in metadata.distributions(path=path):
        try:
            meta = dist.metadata
            raw_name = meta["Name"] if meta is not None else None
        except Exception:
            raw_name = None
        if not raw_name:
            continue
        name = _canonical(raw_name)
        location = getattr(dist, "_path", None)
        location = str(location.parent) if location is not None else ""
        editable, direct_url, source_path = False, None, None
        text = dist.read_text("direct_url.json")
        if text:
            try:
                data = json.loads(text)
                direct_url = redact.redact_text(str(data.get("url", "")))
                editable = bool((data.get("dir_info") or {}).get("editable", False))
                parsed = urlparse(data.get("url", ""))
                if parsed.scheme == "file":
                    source_path = unquote(parsed.path)
            except (ValueError, AttributeError):
                pass
        installer = (dist.read_text("INSTALLER") or "").strip() or None
        top_level_txt = dist.read_text("top_level.txt")
        if top_level_txt:
            top = sorted({t.strip() for t in top_level_txt.splitlines() if t.strip()})
        else:
            top = _top_level_from_record(dist.read_text("RECORD") or "")
        out.append(
            {
                "name": name,
                "raw_name": raw_name,
                "version": (meta["Version"] if meta is not None else None) or "",
                "location": location,
                "installer": installer,
                "editable": editable,
                "direct_url": direct_url,
                "source_path": source_path,
                "requested": dist.read_text("REQUESTED") is not None,
                "top_level": top,
                "shadowed": name in seen,
            }
        )
        seen.add(name)
    return out


def _top_level_from_record(record: str) -> list[str]:
    tops = set()
    for line in record.splitlines():
        path = line.split(",", 1)[0].replace("\\", "/")
        first, sep, _rest = path.partition("/")
        if not first or first.startswith("..") or first == "__pycache__":
            continue
        if not sep:
            if first.endswith(".py") and not first.startswith("__editable__"):
                tops.add(first[:-3])
            elif first.endswith((".so", ".pyd")):
                tops.add(first.split(".", 1)[0])
            continue
        if first.endswith((".dist-info", ".data", ".egg-info")):
            continue
        tops.add(first)
    return sorted(tops)


def _sys_path_entries(
    info: dict, invocation_entry: str | None, final_path: list[str], ini_paths: list[str], rootdir: str | None
) -> list[dict]:
    pythonpath = [os.path.abspath(p) for p in _ENV_AT_START.get("PYTHONPATH", "").split(os.pathsep) if p]
    base = tuple(
        os.path.normcase(os.path.realpath(p))
        for p in {getattr(sys, "base_prefix", sys.prefix), sys.base_exec_prefix}
    )
    user_site = info.get("user_site")
    site_dirs = {os.path.normcase(p) for p in info.get("site_dirs", [])}
    startup = set(info["startup_path"])
    out = []
    ini_abs = {os.path.normcase(os.path.abspath(p)) for p in ini_paths}
    invocation_seen = False
    for entry in final_path:
        norm = os.path.normcase(entry)
        detail = None
        if invocation_entry is not None and entry == invocation_entry and not invocation_seen:
            invocation_seen = True
            origin = "invocation"
            detail = info.get("invocation")
        elif entry in info["added_by"]:
            origin, detail = "pth", info["added_by"][entry]
        elif user_site and norm == os.path.normcase(user_site):
            origin = "user-site"
        elif norm in site_dirs or norm.rstrip(os.sep).endswith(("site-packages", "dist-packages")):
            origin = "site-packages"
        elif entry in pythonpath:
            origin = "pythonpath"
        elif entry in startup and os.path.normcase(os.path.realpath(entry)).startswith(base):
            origin = "stdlib"
        elif entry in startup:
            origin = "unknown"
        elif norm in ini_abs:
            origin = "pythonpath-ini"
        elif rootdir and os.path.normcase(entry) == os.path.normcase(rootdir):
            origin = "pytest-rootdir"
        elif rootdir and os.path.normcase(entry).startswith(os.path.normcase(rootdir)):
            origin, detail = "conftest", "inserted by pytest (rootdir/conftest, import mode prepend)"
        else:
            origin = "runtime"
        out.append({"path": entry, "origin": origin, "detail": detail, "exists": os.path.exists(entry)})
    return out


# --------------------------------------------------------------------------- pytest


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
    """The pytest plugin the probe registers first: notes plugins in order and phase changes."""

    def __init__(self) -> None:
        self.plugins: list[tuple[object, str, str]] = []  # (plugin, name, phase)
        self.config = None
        self.errors: list[dict] = []
        self.collected = 0

    def pytest_plugin_registered(self, plugin, manager) -> None:
        if plugin is self:
            return
        name = manager.get_name(plugin) or ""
        self.plugins.append((plugin, name, STATE.phase))

    def pytest_load_initial_conftests(self, early_config, args, parser) -> None:
        STATE.phase = "conftest"

    def pytest_configure(self, config) -> None:
        STATE.phase = "configure"
        self.config = config

    def pytest_collection(self, session) -> None:
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


def _run_pytest(request: dict, dist_by_top: dict) -> dict:
    STATE.phase = "pytest-import"
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
    recorder = Recorder()
    STATE.phase = "plugin-load"
    cache_dir = tempfile.mkdtemp(prefix="tba-pytest-cache-")
    run_args = [*args, "--collect-only", "-q", "-o", "cache_dir=" + cache_dir]
    exit_code = None
    try:
        exit_code = int(pytest.main(run_args, plugins=[recorder]))
    except SystemExit as exc:
        exit_code = exc.code if isinstance(exc.code, int) else 1
        STATE.error("pytest", f"pytest raised SystemExit({exc.code!r}) during collection")
    except BaseException as exc:
        STATE.error("pytest", f"pytest crashed during collection: {type(exc).__name__}: {exc}")
    finally:
        import shutil

        STATE.guard += 1
        shutil.rmtree(cache_dir, ignore_errors=True)
        STATE.guard -= 1
    return _pytest_section(pytest, recorder, request, exit_code, dist_by_top)


def _pytest_section(pytest, recorder: Recorder, request: dict, exit_code, dist_by_top: dict) -> dict:
    config = recorder.config
    all_args = list(request.get("pytest_args") or [])
    addopts: list[str] = []
    rootdir = inifile = import_mode = None
    testpaths: list[str] = []
    ini_pythonpath: list[str] = []
    unknown: list[str] = []
    if config is not None:
        STATE.guard += 1
        try:
            rootdir = str(getattr(config, "rootpath", None) or config.rootdir)
            inipath = getattr(config, "inipath", None)
            inifile = (
                str(inipath)
                if inipath
                else (str(config.inifile) if getattr(config, "inifile", None) else None)
            )
            try:
                addopts = [redact.redact_text(a) for a in config.getini("addopts")]
            except (ValueError, KeyError):
                addopts = []
            env_addopts = _ENV_AT_START.get("PYTEST_ADDOPTS", "")
            if env_addopts:
                import shlex

                addopts += [redact.redact_text(a) for a in shlex.split(env_addopts)]
            try:
                import_mode = str(config.getoption("importmode"))
            except (ValueError, AttributeError):
                import_mode = None
            try:
                testpaths = [str(p) for p in config.getini("testpaths")]
            except (ValueError, KeyError):
                testpaths = []
            try:
                ini_pythonpath = [str(p) for p in config.getini("pythonpath")]
            except (ValueError, KeyError):
                ini_pythonpath = []
            getter = getattr(config, "_get_unknown_ini_keys", None)
            if getter is not None:
                try:
                    unknown = sorted(getter())
                except Exception:
                    unknown = []
        finally:
            STATE.guard -= 1
    dash_p = set(_parse_dash_p(all_args + addopts))
    env_plugins = {p.strip() for p in _ENV_AT_START.get("PYTEST_PLUGINS", "").split(",") if p.strip()}
    distinfo = {}
    manager = getattr(config, "pluginmanager", None)
    if manager is not None:
        try:
            for plugin, dist in manager.list_plugin_distinfo():
                dname = getattr(dist, "project_name", None) or (
                    dist.metadata["name"] if hasattr(dist, "metadata") else None
                )
                distinfo[id(plugin)] = _canonical(dname) if dname else None
        except Exception:
            pass
    builtin_names = set()
    try:
        from _pytest.config import builtin_plugins

        builtin_names = set(builtin_plugins)
    except ImportError:
        pass
    plugins, conftests = [], []
    seen_ids = set()
    for plugin, name, phase in recorder.plugins:
        if id(plugin) in seen_ids:
            continue
        seen_ids.add(id(plugin))
        module = getattr(plugin, "__name__", None) if isinstance(plugin, type(sys)) else None
        file = _module_file(plugin) if module else None
        if module is None:
            # Objects (config, session, terminal reporter...) registered by pytest itself.
            owner = type(plugin).__module__
            if owner.startswith(("_pytest", "pytest", "pluggy")):
                continue
            module = owner
        if file and os.path.basename(file) == "conftest.py":
            how = "conftest"
            conftests.append(file)
        elif id(plugin) in distinfo:
            how = "entry-point"
        elif module.startswith("_pytest.") or name in builtin_names or module == "pytest":
            how = "builtin"
        elif name in dash_p or module in dash_p:
            how = "-p"
        elif name in env_plugins or module in env_plugins:
            how = "PYTEST_PLUGINS"
        elif phase in ("conftest", "configure", "collection"):
            how = "pytest_plugins"
        else:
            how = "other"
        top = module.partition(".")[0]
        plugins.append(
            {
                "name": name,
                "module": module,
                "file": file,
                "distribution": distinfo.get(id(plugin)) or dist_by_top.get(top),
                "how": how,
            }
        )
    return {
        "available": True,
        "version": getattr(pytest, "__version__", None),
        "invocation": request.get("invocation", "pytest"),
        "args": [redact.redact_text(a) for a in all_args],
        "rootdir": rootdir,
        "inifile": inifile,
        "addopts": addopts,
        "import_mode": import_mode,
        "testpaths": testpaths,
        "ini_pythonpath": ini_pythonpath,
        "unknown_ini_keys": unknown,
        "plugins": plugins,
        "conftests": conftests,
        "collection_errors": recorder.errors,
        "collected": recorder.collected,
        "exit_code": exit_code,
    }


# --------------------------------------------------------------------------- imports section


def _imports_section(is_stdlib, project_root: str, dist_by_top: dict) -> dict:
    timeline = []
    for event in STATE.imports:
        mod = sys.modules.get(event["module"])
        file = _module_file(mod) if mod is not None else None
        if mod is None or is_stdlib(event["module"], file):
            continue
        timeline.append(event)
    by_file: dict = {}
    origins = []
    root = os.path.normcase(os.path.realpath(project_root)) + os.sep
    for name, mod in sorted(sys.modules.items()):
        if mod is None or name.startswith(_OWN_MODULES):
            continue
        file = _module_file(mod)
        if is_stdlib(name, file):
            continue
        real = os.path.normcase(os.path.realpath(file)) if file else None
        if real:
            by_file.setdefault(real, []).append(name)
        in_project = bool(
            real
            and real.startswith(root)
            and "site-packages" not in real
            and os.sep + "." not in real[len(root) - 1 :]
        )
        origins.append(
            {
                "module": name,
                "file": file,
                "in_project": in_project,
                "distribution": dist_by_top.get(name.partition(".")[0]),
            }
        )
    doubles = [
        {"file": file, "names": sorted(names)}
        for file, names in sorted(by_file.items())
        if len(names) > 1 and not file.endswith("__main__.py")
    ]
    return {
        "timeline": timeline,
        "double_imports": doubles,
        "origins": origins,
        "packages": _package_files(_project_tops(project_root)),
    }


_SKIP_DIRS = frozenset(
    {"node_modules", "build", "dist", "__pycache__", "site-packages", "htmlcov", "docs", "examples"}
)
_MAX_PACKAGE_FILES = 500
_MAX_HASHED_SIZE = 2 * 1024 * 1024


def _project_tops(project_root: str, depth: int = 3) -> set:
    """Names of the packages the project's own tree defines (``pkg/``, ``src/pkg/``, monorepos)."""
    tops: set = set()

    def walk(directory: str, level: int) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if (
                entry.name.startswith(".")
                or entry.name in _SKIP_DIRS
                or not entry.is_dir(follow_symlinks=False)
            ):
                continue
            if os.path.isfile(os.path.join(entry.path, "__init__.py")):
                if entry.name.isidentifier():
                    tops.add(entry.name)
            elif level < depth and not os.path.isfile(os.path.join(entry.path, "pyvenv.cfg")):
                walk(entry.path, level + 1)

    walk(project_root, 0)
    return tops


def _package_files(tops: set) -> list:
    """The files of each imported project package, as this interpreter resolved it.

    An editable install resolves to the source tree, a wheel to site-packages: comparing the
    two sides shows package data left out of the wheel or a stale installed copy.
    """
    import hashlib

    out = []
    for name in sorted(tops):
        mod = sys.modules.get(name)
        paths = list(getattr(mod, "__path__", None) or [])
        if mod is None or not paths:
            continue
        root = os.path.abspath(paths[0])
        files, truncated = [], False
        for directory, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
            for filename in sorted(filenames):
                if filename.endswith((".pyc", ".pyo")) or filename.startswith("."):
                    continue
                full = os.path.join(directory, filename)
                if len(files) >= _MAX_PACKAGE_FILES:
                    truncated = True
                    break
                try:
                    size = os.path.getsize(full)
                    digest = None
                    if size <= _MAX_HASHED_SIZE:
                        with open(full, "rb") as fh:
                            digest = hashlib.sha256(fh.read()).hexdigest()
                except OSError:
                    continue
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                files.append({"path": rel, "size": size, "sha256": digest})
        out.append({"name": name, "root": root, "files": files, "truncated": truncated})
    return out


# --------------------------------------------------------------------------- main


def _startup_modules(names, startup_by: dict, is_stdlib) -> list:
    """Non-stdlib modules imported during start-up, with the .pth / customize file behind each."""
    out = []
    for name in sorted(names):
        module = sys.modules.get(name)
        if name.startswith(_OWN_MODULES) or module is None:
            continue
        file = _module_file(module)
        if not is_stdlib(name, file):
            out.append({"name": name, "file": file, "by": startup_by.get(name)})
    return out


def _invocation_entry(request: dict) -> str | None:
    if getattr(sys.flags, "safe_path", False):
        return None
    if request.get("invocation") == "python-m":
        return os.getcwd()
    script = request.get("pytest_script")
    if script:
        return os.path.dirname(os.path.realpath(script))
    return os.path.dirname(sys.executable)


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as fh:
        request = json.load(fh)
    key = bytes.fromhex(request["key"])
    out_path = request["out"]

    # Leave no trace of the probe on sys.path: the target sees only its own world.
    while sys.path and sys.path[0] == _PROBE_DIR:
        del sys.path[0]

    _install_environ_tracer()
    sys.meta_path.insert(0, ImportRecorder())
    if brokers_mod is not None and request.get("brokers", True):
        try:
            brokers_mod.install(STATE)
        except Exception as exc:
            STATE.error("brokers", f"could not instrument dramatiq: {type(exc).__name__}: {exc}")

    info: dict = {}
    if not request.get("no_site"):
        _run_site(info)
    else:
        info.update(
            pth=[],
            customize={},
            added_by={},
            before_site=list(sys.path),
            user_site=None,
            user_site_enabled=False,
            site_dirs=[],
        )
    STATE.phase = "pytest-import"
    invocation_entry = _invocation_entry(request)
    info["invocation"] = request.get("invocation", "pytest")
    if invocation_entry is not None:
        sys.path.insert(0, invocation_entry)
    info["startup_path"] = list(sys.path)
    startup_modules = set(sys.modules) - _PRE_MODULES

    # From here on our own work must not write byte-code into the project.
    sys.dont_write_bytecode = True
    STATE.guard += 1
    is_stdlib = _stdlib_checker()
    interpreter = _interpreter(request)
    try:
        dists = _distributions(list(sys.path))
    except Exception as exc:
        dists = []
        STATE.error("distributions", f"could not read installed distributions: {type(exc).__name__}: {exc}")
    STATE.guard -= 1
    dist_by_top = {}
    for dist in dists:
        if not dist["shadowed"]:
            for top in dist["top_level"]:
                dist_by_top.setdefault(top, dist["name"])

    startup_by = {}
    for event in STATE.imports:
        if event["phase"] == "startup":
            startup_by.setdefault(event["module"], event["importer_file"] or event["importer"])
    startup_section = {
        "pth_files": info["pth"] + _unprocessed_pth(info),
        "sitecustomize": info["customize"].get("sitecustomize"),
        "usercustomize": info["customize"].get("usercustomize"),
        "user_site": info.get("user_site"),
        "user_site_enabled": info.get("user_site_enabled", False),
        "modules": _startup_modules(startup_modules, startup_by, is_stdlib),
    }

    pytest_section = _run_pytest(request, dist_by_top)
    STATE.phase = "collection"
    STATE.guard += 1
    try:
        brokers = {"captured": False}
        if brokers_mod is not None and request.get("brokers", True):
            try:
                brokers = brokers_mod.collect(STATE, dict(_ENV_AT_START), request)
            except Exception as exc:
                STATE.error("brokers", f"broker introspection failed: {type(exc).__name__}: {exc}")
        project_root = request.get("project_root") or os.getcwd()
        imports = _imports_section(is_stdlib, project_root, dist_by_top)
        sys_path = _sys_path_entries(
            info,
            invocation_entry,
            list(sys.path),
            [
                os.path.join(pytest_section.get("rootdir") or "", p)
                for p in pytest_section.get("ini_pythonpath", [])
            ],
            pytest_section.get("rootdir"),
        )
        snapshot = {
            "schema": "tox-broker-audit/snapshot",
            "schema_version": 1,
            "meta": {
                "tool_version": request.get("tool_version", "unknown"),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "host": _hostname(),
                "source": request.get("source") or {"kind": "cli", "name": None, "description": ""},
                "invocation": request.get("invocation", "pytest"),
                "command": [redact.redact_text(c) for c in request.get("command") or []],
                "cwd": os.getcwd(),
                "duration_s": round(time.perf_counter() - _T0, 4),
            },
            "interpreter": interpreter,
            "environ": _environ(key, STATE.reads),
            "sys_path": sys_path,
            "startup": startup_section,
            "distributions": dists,
            "pytest": pytest_section,
            "imports": imports,
            "brokers": brokers,
            "errors": STATE.errors,
        }
        tmp = out_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(snapshot, fh, indent=1)
        os.replace(tmp, out_path)
    finally:
        STATE.guard -= 1
    return 0


def _hostname() -> str:
    import socket

    try:
        return socket.gethostname()
    except OSError:
        return "unknown"


_ENV_AT_START = dict(os.environ)

if __name__ == "__main__":
    _code = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter shutdown work of the audited code (atexit handlers of the project,
    # dramatiq's broker closing...): they are not part of what we measure and may hang.
    os._exit(_code)
