"""Imports: the import recorder and the snapshot's ``imports`` section.

Stdlib only, Python 3.9+. Executed inside the audited interpreter as the top-level module
``_tba_imports``. :class:`ImportRecorder` sits first on ``sys.meta_path`` from before start-up
on and notes who imports what, and in which phase, without finding anything itself. At the
end :func:`imports_section` keeps the non-stdlib part of that timeline, where each loaded
module came from (project tree or a distribution), modules loaded twice under two names, and
the files of the project's own packages as this interpreter resolved them.

Failed imports: :class:`NotFoundRecorder`, put *last* on ``sys.meta_path`` when the
:class:`ImportRecorder` is made, is asked only for a name every finder before it did not find:
an import that raises ``ModuleNotFoundError`` (``try: import redis / except ImportError``).
It notes the name and the code that asked, finds nothing either, and costs nothing for an
import that succeeds. A finder appended after it later (six, a setuptools editable finder)
may still find the name: such a note is kept only if the module is not loaded at the end.
``importlib.util.find_spec()`` checks are not imports and are left out, as are imports asked
for by the stdlib, by pytest and pluggy, and by the probe (:func:`imports_section`).
"""

from __future__ import annotations

import os
import sys

from _tba_state import OWN_MODULES, STATE, frame_info, interesting_frame, module_file

__all__ = ["ImportRecorder", "NotFoundRecorder", "imports_section", "stdlib_checker"]


#: Phases before any conftest ran: an import then may bind actors before a test can set a stub,
#: so the modules on the call stack are kept (``via``) to tell which plugin or ``.pth`` caused it.
_EARLY_PHASES = ("startup", "pytest-import", "plugin-load")
_MAX_VIA = 16
#: Failed imports kept in the snapshot; noted at most (before the stdlib ones are left out).
_MAX_FAILED = 500
_MAX_FAILED_NOTED = 2000
#: Whose imports are machinery, not a choice of the project or a library: pytest's and pluggy's.
_MACHINERY_TOPS = frozenset({"_pytest", "pytest", "pluggy"})


def _via(frame) -> list:
    """Distinct modules on the call stack above ``frame``, innermost first (import machinery skipped)."""
    out: list = []
    while frame is not None and len(out) < _MAX_VIA:
        name = frame.f_globals.get("__name__")
        machinery = not isinstance(name, str) or name.startswith(
            ("importlib", "_frozen_importlib", *OWN_MODULES)
        )
        if not machinery and name not in out:
            out.append(name)
        frame = frame.f_back
    return out


class ImportRecorder:
    """A meta-path finder that finds nothing: it only notes who imports what, and when.

    Making one also appends its :class:`NotFoundRecorder` to ``sys.meta_path``.
    """

    def __init__(self) -> None:
        sys.meta_path.append(NotFoundRecorder())

    def find_spec(self, fullname, path=None, target=None):  # noqa: ARG002 - importlib finder protocol
        if not STATE.guard and not fullname.startswith(OWN_MODULES):
            frame = interesting_frame(2)
            file, line, module = frame_info(frame)
            event = {
                "module": fullname,
                "phase": STATE.phase,
                "importer": module,
                "importer_file": file,
                "importer_line": line,
            }
            if STATE.phase in _EARLY_PHASES and frame is not None:
                event["via"] = _via(frame.f_back)
            STATE.imports.append(event)

    def invalidate_caches(self) -> None:
        return None


class NotFoundRecorder:
    """The last meta-path finder: asked only when no finder found the name, so the import
    raises ``ModuleNotFoundError``; it notes who asked (see the module docstring)."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: ARG002 - importlib finder protocol
        if not STATE.guard and not fullname.startswith(OWN_MODULES):
            meta_path = sys.meta_path
            _note_failed(fullname, bool(meta_path) and meta_path[-1] is self)

    def invalidate_caches(self) -> None:
        return None


def _note_failed(fullname: str, last: bool) -> None:
    """Note a name no finder found (``last``: no finder after ours, so the import surely failed)."""
    if len(STATE.failed_imports) >= _MAX_FAILED_NOTED:
        return
    # Frames: this, NotFoundRecorder.find_spec, importlib's _find_spec, and above it for an
    # import _find_and_load_unlocked; for an importlib.util.find_spec() check that function
    # (no import, nothing raised).
    try:
        caller = sys._getframe(3)
    except ValueError:  # called by hand, not by the import system
        return
    if caller.f_code.co_name != "_find_and_load_unlocked":
        return
    file, line, module = frame_info(interesting_frame(3))
    if file is None or file.startswith("<frozen") or _top(module) in _MACHINERY_TOPS:
        return
    key = (fullname, file, line)
    if key in STATE.failed_keys:
        return
    STATE.failed_keys.add(key)
    STATE.failed_imports.append(
        {
            "module": fullname,
            "phase": STATE.phase,
            "file": file,
            "line": line,
            "importer": module,
            "last": last,
        }
    )


def _top(module) -> str:
    return module.partition(".")[0] if isinstance(module, str) else ""


def stdlib_checker():
    """A function ``is_stdlib(name, file)`` for this interpreter."""
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


def imports_section(is_stdlib, project_root: str, dist_by_top: dict) -> dict:
    """The ``imports`` section: timeline, double imports, origins, project package files."""
    timeline = []
    root = os.path.normcase(os.path.realpath(project_root)) + os.sep
    for event in STATE.imports:
        mod = sys.modules.get(event["module"])
        file = module_file(mod) if mod is not None else None
        if mod is None or is_stdlib(event["module"], file):
            continue
        if "via" in event and not _in_project(_real(file), root):
            event = {k: v for k, v in event.items() if k != "via"}  # kept for project modules only
        timeline.append(event)
    by_file: dict = {}
    origins = []
    for name, mod in sorted(sys.modules.items()):
        if mod is None or name.startswith(OWN_MODULES):
            continue
        file = module_file(mod)
        if is_stdlib(name, file):
            continue
        real = _real(file)
        if real:
            by_file.setdefault(real, []).append(name)
        in_project = _in_project(real, root)
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
        "failed": _failed_imports(is_stdlib, root),
    }


def _failed_imports(is_stdlib, root: str) -> list:
    """Imports no finder found, asked for by the project or a library (not the stdlib)."""
    import sysconfig

    paths = sysconfig.get_paths()
    stdlib_dirs = tuple(
        os.path.join(os.path.normcase(os.path.realpath(p)), "")
        for p in {paths.get("stdlib"), paths.get("platstdlib")}
        if p
    )
    out = []
    for event in STATE.failed_imports:
        if not event["last"] and event["module"] in sys.modules:
            continue  # a finder after ours found it
        file, importer = event["file"], event["importer"]
        real = None if file.startswith("<") else _real(file)
        if real is None:  # code without a file (exec'd): the stdlib's if its module is
            in_stdlib = isinstance(importer, str) and is_stdlib(importer, None)
        else:
            in_stdlib = (
                real.startswith(stdlib_dirs) and "site-packages" not in real and "dist-packages" not in real
            )
        if in_stdlib:
            continue
        out.append(
            {
                "module": event["module"],
                "phase": event["phase"],
                "file": file,
                "line": event["line"],
                "importer": importer,
                "in_project": _in_project(real, root),
            }
        )
        if len(out) >= _MAX_FAILED:
            break
    return out


def _real(file):
    return os.path.normcase(os.path.realpath(file)) if file else None


def _in_project(real, root: str) -> bool:
    """``real`` (a normalised real path) lies in the project tree, not in an env or hidden dir."""
    return bool(
        real
        and real.startswith(root)
        and "site-packages" not in real
        and os.sep + "." not in real[len(root) - 1 :]
    )


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
        files: list[dict] = []
        truncated = False
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
