"""Files the project opens by a path relative to the working directory (``sys.addaudithook``).

Stdlib only, Python 3.9+. ``open("config/broker.toml")`` in a settings module finds the file
only when the run starts in the right directory: tox's ``change_dir`` moves the cwd, and the
file is silently missing (a fallback branch builds a real broker). The ``open`` audit event
is raised before the file is opened, for ``open()``, ``io.open``, ``pathlib`` and
``os.open``; we note every *relative* path opened for reading by code of the project (not
the stdlib, not site-packages, not the probe), where it resolved and whether it existed, so
a failed open shows as a failed open. Audit hooks cannot be removed: after the snapshot is
written the probe exits.
"""

from __future__ import annotations

import os
import sys

from _tba_state import STATE, frame_info, interesting_frame

__all__ = ["install", "opens_section"]

_LIMIT = 100
_OPENS: list = []
_ROOT: list = []


def _outside_project(file: str | None) -> bool:
    if not file or not _ROOT:
        return True
    absolute = os.path.abspath(file)
    root = _ROOT[0]
    if not (absolute == root or absolute.startswith(root + os.sep)):
        return True
    parts = absolute[len(root) :].split(os.sep)
    return any(part in ("site-packages", ".tox", ".nox", ".venv", "venv") for part in parts)


def _hook(event: str, args: tuple) -> None:
    if event != "open" or STATE.guard or len(_OPENS) >= _LIMIT or not args:
        return
    path, mode = args[0], args[1] if len(args) > 1 else "r"
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str) or not path or os.path.isabs(path):
        return
    if isinstance(mode, str) and any(flag in mode for flag in "wax+"):
        return
    STATE.guard += 1
    try:
        file, line, module = frame_info(interesting_frame(2))
        if _outside_project(file):
            return
        resolved = os.path.abspath(path)
        _OPENS.append(
            {
                "path": path,
                "resolved": resolved,
                "exists": os.path.exists(resolved),
                "phase": STATE.phase,
                "file": file,
                "line": line,
                "module": module,
            }
        )
    except Exception:
        pass
    finally:
        STATE.guard -= 1


def install(project_root: str) -> None:
    """Start recording (once per process)."""
    _ROOT.append(os.path.abspath(project_root))
    try:
        sys.addaudithook(_hook)
    except Exception as exc:
        STATE.error("files", f"cannot record opened files: {type(exc).__name__}: {exc}")


def opens_section() -> list:
    """The relative opens, first occurrence of each (path, file, line)."""
    seen = set()
    out = []
    for record in _OPENS:
        key = (record["path"], record["file"], record["line"])
        if key not in seen:
            seen.add(key)
            out.append(record)
    return out
