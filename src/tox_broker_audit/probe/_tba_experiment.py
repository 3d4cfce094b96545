"""Experiments: the small changes a re-probe applies to the target before it starts.

Stdlib only, Python 3.9+. The host's verify stage (``verify/runner.py``) re-runs the probe
with one difference between the two snapshots undone; what the host cannot do itself (the
environment, the cwd, the invocation and pytest's arguments it can) is asked for in the
request's ``experiment`` object and applied here:

- ``skip_pth``: names of ``.pth`` files whose exec (``import``) lines are not run at start-up
  (their path lines still are);
- ``skip_customize``: ``sitecustomize``/``usercustomize`` not run at start-up (the target's
  own, when the baseline has none);
- ``run_files``: Python files run as ``sitecustomize`` right after start-up (the baseline's);
- ``path_prepend``: entries put first on ``sys.path`` after start-up, behind the invocation's
  own ``sys.path[0]``, as ``PYTHONPATH`` would;
- ``hide``: top-level names that cannot be imported from then on (a package the baseline
  does not have: ``import redis`` raises ``ModuleNotFoundError`` as it would there).

Without an ``experiment`` in the request nothing here does anything.
"""

from __future__ import annotations

import os
import sys

from _tba_state import STATE

__all__ = ["Hidden", "paths_only", "prepend", "run_files", "skipped_customize", "skipped_pth"]


def _experiment(request: dict) -> dict:
    value = request.get("experiment")
    return value if isinstance(value, dict) else {}


def skipped_pth(request: dict) -> frozenset:
    return frozenset(_experiment(request).get("skip_pth") or ())


def skipped_customize(request: dict) -> frozenset:
    return frozenset(_experiment(request).get("skip_customize") or ())


def paths_only(sitedir, name, known_paths):
    """``site.addpackage`` without the exec lines: only the path lines of the ``.pth`` file."""
    fullname = os.path.join(sitedir, name)
    try:
        with open(fullname, encoding="utf-8-sig", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return known_paths
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or line.startswith(("import ", "import\t")):
            continue
        entry = os.path.abspath(os.path.join(sitedir, line.rstrip()))
        if known_paths is not None and os.path.normcase(entry) in known_paths:
            continue
        if os.path.exists(entry):
            sys.path.append(entry)
            if known_paths is not None:
                known_paths.add(os.path.normcase(entry))
    return known_paths


def run_files(request: dict) -> None:
    """Run each file of ``run_files`` as ``sitecustomize`` would be run (errors recorded)."""
    import importlib.util

    for path in _experiment(request).get("run_files") or ():
        STATE.startup_origin = "sitecustomize"
        try:
            spec = importlib.util.spec_from_file_location("sitecustomize", path)
            if spec is None or spec.loader is None:
                continue
            module = importlib.util.module_from_spec(spec)
            sys.modules["sitecustomize"] = module
            spec.loader.exec_module(module)
        except BaseException as exc:
            STATE.error("experiment", f"running {path} failed: {type(exc).__name__}: {exc}")
        finally:
            STATE.startup_origin = None


class Hidden:
    """A ``sys.meta_path`` finder, first of all: the hidden top-level names are not found."""

    def __init__(self, names) -> None:
        self.names = frozenset(names)

    def find_spec(self, fullname, path=None, target=None):  # noqa: ARG002 - the finder protocol
        if fullname.partition(".")[0] in self.names:
            msg = f"No module named {fullname!r}"
            raise ModuleNotFoundError(msg, name=fullname)


def prepend(request: dict, after_first: bool) -> None:
    """Put ``path_prepend`` first on ``sys.path`` (after the invocation's entry, if any), and
    hide the ``hide`` names from import."""
    hidden = [str(n) for n in _experiment(request).get("hide") or ()]
    if hidden:
        sys.meta_path.insert(0, Hidden(hidden))
    entries = [str(p) for p in _experiment(request).get("path_prepend") or ()]
    position = 1 if after_first and sys.path else 0
    for entry in reversed(entries):
        sys.path.insert(position, entry)
