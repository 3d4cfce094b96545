"""Start-up and ``sys.path``: running ``site`` ourselves, and the sections that describe it.

Stdlib only, Python 3.9+. Executed inside the audited interpreter as the top-level module
``_tba_site``. The probe starts the target with ``-S`` so that ``site`` has not run yet;
:func:`startup_info` runs ``site.main()`` exactly as start-up would, with the recorders
already installed, and notes what every ``.pth`` file and ``sitecustomize``/``usercustomize``
did (paths added, modules imported). :func:`invocation_entry_of` is the ``sys.path[0]`` the
real invocation gets (CPython prepends it after ``site`` ran). The sections built here:
``startup``, ``sys_path`` (each entry with its origin) and ``interpreter``.
"""

from __future__ import annotations

import os
import sys

import _tba_experiment
import _tba_redact as redact
from _tba_state import OWN_MODULES, STATE, module_file

__all__ = [
    "interpreter_section",
    "invocation_entry_of",
    "startup_info",
    "startup_section",
    "sys_path_entries",
]

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
    path_lines: list[str] = []
    exec_lines: list[str] = []
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


def _pth_record(path: str, name: str, added_paths: list, imported: list, processed: bool) -> dict:
    path_lines, exec_lines = _read_pth(path)
    return {
        "path": path,
        "name": name,
        "path_lines": path_lines,
        "exec_lines": exec_lines,
        "known": _known_pth(name, exec_lines, path_lines),
        "added_paths": added_paths,
        "imported": imported,
        "processed": processed,
    }


class _SiteRecorder:
    """Stands in for ``site.addpackage``, ``execsitecustomize`` and ``execusercustomize`` while
    ``site.main()`` runs: calls the originals and notes what each step did."""

    def __init__(self, site, skip: frozenset = frozenset(), skip_customize: frozenset = frozenset()) -> None:
        self.site = site
        self.skip = skip  # .pth files whose exec lines an experiment skips (_tba_experiment)
        self.skip_customize = skip_customize  # sitecustomize/usercustomize an experiment skips
        self.pth_records: list[dict] = []
        self.customize: dict = {}
        self.added_by: dict = {}
        self.original_addpackage = site.addpackage
        self.original_sitecustomize = getattr(site, "execsitecustomize", None)
        self.original_usercustomize = getattr(site, "execusercustomize", None)

    def install(self) -> None:
        site = self.site
        site.addpackage = self.addpackage
        if self.original_sitecustomize is not None:
            site.execsitecustomize = self._customize_runner("sitecustomize", self.original_sitecustomize)
        if self.original_usercustomize is not None:
            site.execusercustomize = self._customize_runner("usercustomize", self.original_usercustomize)

    def restore(self) -> None:
        site = self.site
        site.addpackage = self.original_addpackage
        if self.original_sitecustomize is not None:
            site.execsitecustomize = self.original_sitecustomize
        if self.original_usercustomize is not None:
            site.execusercustomize = self.original_usercustomize

    def addpackage(self, sitedir, name, known_paths):
        fullname = os.path.join(sitedir, name)
        before_path = list(sys.path)
        before_modules = set(sys.modules)
        STATE.startup_origin = fullname
        try:
            if name in self.skip:
                return _tba_experiment.paths_only(sitedir, name, known_paths)
            return self.original_addpackage(sitedir, name, known_paths)
        finally:
            STATE.startup_origin = None
            self._note_pth(fullname, name, before_path, before_modules)

    def _note_pth(self, fullname, name, before_path, before_modules) -> None:
        added = [p for p in sys.path if p not in before_path]
        for entry in added:
            self.added_by[entry] = fullname
        imported = sorted(m for m in set(sys.modules) - before_modules if not m.startswith(OWN_MODULES))
        previous = next((rec for rec in self.pth_records if rec["path"] == fullname), None)
        if previous is not None:
            # CPython 3.11+ processes a venv's site-packages twice (site.venv() and main()):
            # keep one record of the file with everything it did.
            previous["added_paths"] += [p for p in added if p not in previous["added_paths"]]
            previous["imported"] = sorted(set(previous["imported"]) | set(imported))
            return
        self.pth_records.append(_pth_record(fullname, name, added, imported, True))

    def _customize_runner(self, module_name: str, original):
        def run():
            self._run_customize(module_name, original)

        return run

    def _run_customize(self, module_name: str, original) -> None:
        if module_name in self.skip_customize:
            return  # an experiment: start-up as if the env had no such module
        before_modules = set(sys.modules)
        STATE.startup_origin = module_name
        try:
            original()
        except BaseException as exc:  # site itself swallows most; record anything left
            self.customize[module_name + "_error"] = f"{type(exc).__name__}: {exc}"
        finally:
            STATE.startup_origin = None
        self._note_customize(module_name, before_modules)

    def _note_customize(self, module_name: str, before_modules: set) -> None:
        mod = sys.modules.get(module_name)
        file = module_file(mod) if mod is not None else None
        if file is None:
            file = _find_customize_file(module_name)
        if mod is None and file is None:
            return
        sha = None
        if file and os.path.isfile(file):
            import hashlib

            with open(file, "rb") as fh:
                sha = hashlib.sha256(fh.read()).hexdigest()
        self.customize[module_name] = {
            "module": module_name,
            "path": file,
            "sha256": sha,
            "imported": sorted(
                m
                for m in set(sys.modules) - before_modules
                if m != module_name and not m.startswith(OWN_MODULES)
            ),
            "error": self.customize.get(module_name + "_error")
            or (None if mod is not None else "import failed"),
        }


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


def _run_site(info: dict, request: dict) -> None:
    """Run ``site.main()`` as start-up would, recording what every step did."""
    import site

    recorder = _SiteRecorder(
        site, _tba_experiment.skipped_pth(request), _tba_experiment.skipped_customize(request)
    )
    before_site = list(sys.path)
    recorder.install()
    try:
        site.main()
    except BaseException as exc:
        STATE.error("startup", f"site.main() failed: {type(exc).__name__}: {exc}")
    finally:
        recorder.restore()
    info["pth"] = recorder.pth_records
    info["customize"] = recorder.customize
    info["added_by"] = recorder.added_by
    info["before_site"] = before_site
    info["user_site"] = getattr(site, "USER_SITE", None)
    info["user_site_enabled"] = bool(getattr(site, "ENABLE_USER_SITE", False))
    info["site_dirs"] = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []


def startup_info(request: dict) -> dict:
    """What start-up did: ``site`` run by us, unless the real command starts without it."""
    info: dict = {}
    if not request.get("no_site"):
        _run_site(info, request)
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
    return info


def invocation_entry_of(request: dict) -> str | None:
    """The ``sys.path[0]`` the real invocation gets (``None`` under ``-P``/``PYTHONSAFEPATH``)."""
    if getattr(sys.flags, "safe_path", False):
        return None
    if request.get("invocation") == "python-m":
        return os.getcwd()
    script: str | None = request.get("pytest_script")
    if script:
        return os.path.dirname(os.path.realpath(script))
    return os.path.dirname(sys.executable)


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
                out.append(_pth_record(full, name, [], [], False))
    return out


def _startup_modules(names, startup_by: dict, is_stdlib) -> list:
    """Non-stdlib modules imported during start-up, with the .pth / customize file behind each."""
    out = []
    for name in sorted(names):
        module = sys.modules.get(name)
        if name.startswith(OWN_MODULES) or module is None:
            continue
        file = module_file(module)
        if not is_stdlib(name, file):
            out.append({"name": name, "file": file, "by": startup_by.get(name)})
    return out


def startup_section(info: dict, loaded: set, is_stdlib) -> dict:
    """The ``startup`` section: ``.pth`` files, customize modules, modules ``loaded`` by start-up."""
    startup_by: dict = {}
    for event in STATE.imports:
        if event["phase"] == "startup":
            startup_by.setdefault(event["module"], event["importer_file"] or event["importer"])
    return {
        "pth_files": info["pth"] + _unprocessed_pth(info),
        "sitecustomize": info["customize"].get("sitecustomize"),
        "usercustomize": info["customize"].get("usercustomize"),
        "user_site": info.get("user_site"),
        "user_site_enabled": info.get("user_site_enabled", False),
        "modules": _startup_modules(loaded, startup_by, is_stdlib),
    }


def sys_path_entries(
    info: dict, invocation_entry: str | None, final_path: list[str], ini_paths: list[str], rootdir: str | None
) -> list[dict]:
    pythonpath = [os.path.abspath(p) for p in STATE.env_at_start.get("PYTHONPATH", "").split(os.pathsep) if p]
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


def _pyvenv_cfg() -> tuple[dict, str | None]:
    """The (redacted) ``pyvenv.cfg`` of this interpreter and the tool that made the venv."""
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
    return cfg, creator


def interpreter_section(request: dict) -> dict:
    """The ``interpreter`` section: version, prefixes, venv, flags of the real command."""
    import platform

    cfg, creator = _pyvenv_cfg()
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
        "hashseed": STATE.env_at_start.get("PYTHONHASHSEED"),
        "platform": sys.platform,
    }
