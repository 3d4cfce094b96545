"""Anchors: where a snapshot's paths hang from, so that paths compare wherever the run was.

The same project checked out at another path, run by another user, on another machine (same
Python minor, another install prefix) must compare equal: a reference snapshot committed to the
repository is compared in a CI checkout that is never where it was saved. So before two paths
are compared, each is written relative to the most specific *anchor* of its own snapshot:

========================  ====================================================================
``<prefix>``              the interpreter's ``sys.prefix`` (the env: its site-packages, ``bin``)
``<base>``                ``sys.base_prefix`` (the Python installation: its stdlib)
``<toxworkdir>``          tox's work directory (``$TOX_WORK_DIR``), when set
``<project>``             the project root the audit ran for (``meta.project_root``)
``<home>``                the user's home (``$HOME``)
========================  ====================================================================

The longest anchor that contains a path wins (the env inside ``.tox`` inside the project
inside the home). Absolute paths stay in the snapshot, for display; only comparisons anchor.
Free text (a collection error, a crash message) is anchored too (:meth:`Anchors.text`), a
root counting only as whole path components.

This module is the one owner of path anchoring: which directories are the project's
(:func:`project_roots`, :func:`in_project`), which belong to an env or installed packages and
are never the user's to edit (:func:`is_own_file`), which files are the stdlib's
(:func:`in_stdlib`) and whether a path lies under a directory (:func:`is_under`).
Pure functions over the snapshot model.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Iterable

from tox_broker_audit.snapshot.model import Snapshot

__all__ = [
    "Anchors",
    "anchors_of",
    "in_project",
    "in_stdlib",
    "is_inside",
    "is_installed",
    "is_own_file",
    "is_under",
    "project_roots",
]

#: Anchors too short to mean anything: every path would hang from them.
_TOO_SHORT = {"", os.sep, "/", "."}

#: A directory component that holds installed packages or is a tox/nox/virtual env: what the
#: next install overwrites, never the user's own code.
_INSTALLED = re.compile(r"[\\/](site-packages|dist-packages|\.tox|\.nox|\.venv|venv)[\\/]")
#: Installed third-party packages (inside a Python installation, next to its stdlib).
_PACKAGES = re.compile(r"[\\/](site-packages|dist-packages)[\\/]")
#: What may precede or follow a path in free text without being part of it.
_PATH_CHAR = r"[\w.~-]"


def is_under(path: str, root: str) -> bool:
    """``path`` is ``root`` or inside it (both normalised; ``/a/proj2`` is not under ``/a/proj``)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def is_inside(path: str, root: str) -> bool:
    """``path`` is strictly inside ``root`` (both normalised here)."""
    norm, top = os.path.normpath(path), os.path.normpath(root)
    return norm != top and is_under(norm, top)


def is_installed(path: str) -> bool:
    """``path`` is inside installed packages or a tox/nox/virtual env (the next install overwrites it)."""
    return bool(_INSTALLED.search(path))


def is_own_file(path: str | None) -> bool:
    """A real file the user may edit: not ``<frozen …>``/a placeholder, not installed."""
    if not path:
        return False
    return not path.startswith("<") and not is_installed(path)


@dataclasses.dataclass(frozen=True)
class Anchors:
    """``(root, placeholder)`` pairs, longest root first."""

    roots: tuple[tuple[str, str], ...]

    def path(self, path: str | None) -> str | None:
        """``path`` with its most specific anchor replaced by the anchor's placeholder."""
        if path is None:
            return None
        if not os.path.isabs(path):
            return os.path.normpath(path) if path else path
        norm = os.path.normpath(path)
        for root, placeholder in self.roots:
            if is_under(norm, root):
                return placeholder + norm[len(root) :]
        return norm

    def value(self, value: str) -> str:
        """An environment value: a path, or a ``os.pathsep`` list of paths, anchored."""
        if os.sep not in value:
            return value
        parts = value.split(os.pathsep)
        if not all(os.path.isabs(part) for part in parts if part):
            return value
        return os.pathsep.join(self.path(part) or "" if part else part for part in parts)

    def text(self, text: str) -> str:
        """Free text with every absolute path written against its anchor.

        The project's own paths become relative to it, as a user reads them (``tests/t.py``,
        the root itself ``.``); the others get their placeholder (``<prefix>/lib/x.py``). The
        longest root wins; a root counts only as whole components (``/proj`` is not in
        ``/project2`` nor in ``/x/proj``).
        """
        if not self.roots:
            return text
        return self._pattern.sub(self._replace, text)

    @functools.cached_property
    def _pattern(self) -> re.Pattern[str]:
        roots = "|".join(re.escape(root) for root, _ in self.roots)
        sep = re.escape(os.sep)
        return re.compile(rf"(?<!{_PATH_CHAR}|{sep})(?P<root>{roots})(?:(?P<sep>{sep})|(?!{_PATH_CHAR}))")

    def _replace(self, match: re.Match[str]) -> str:
        placeholder = dict(self.roots)[match["root"]]
        if placeholder == "<project>":
            return "" if match["sep"] else "."
        return placeholder + (match["sep"] or "")


def _variable(snapshot: Snapshot, name: str) -> str | None:
    for var in snapshot.environ.variables:
        if var.name == name and not var.secret:
            return var.value
    return None


def _pairs(snapshot: Snapshot, project: str | None) -> Iterable[tuple[str | None, str]]:
    interp = snapshot.interpreter
    yield interp.prefix, "<prefix>"
    yield interp.base_prefix, "<base>"
    yield _variable(snapshot, "TOX_WORK_DIR"), "<toxworkdir>"
    yield snapshot.meta.project_root or project, "<project>"
    yield _variable(snapshot, "HOME"), "<home>"


def _norm(root: str | None) -> str | None:
    """``root`` normalised, or None when it is relative or too short to anchor anything."""
    if not root or not os.path.isabs(root):
        return None
    norm = os.path.normpath(root)
    return None if norm in _TOO_SHORT else norm


def project_roots(snapshot: Snapshot) -> tuple[str, ...]:
    """Where ``snapshot``'s project files are: its project root, cwd and pytest rootdir.

    Normalised, each once, the recorded project root first; never ``/`` or the snapshot's
    home (a run from ``~`` does not make every file under it the project's).
    """
    home = _norm(_variable(snapshot, "HOME"))
    roots: list[str] = []
    for path in (snapshot.meta.project_root, snapshot.meta.cwd, snapshot.pytest.rootdir):
        norm = _norm(path)
        if norm is not None and norm != home and norm not in roots:
            roots.append(norm)
    return tuple(roots)


def in_project(path: str | None, roots: Iterable[str]) -> bool:
    """``path`` is the user's own file (:func:`is_own_file`) under one of ``roots``."""
    if not path or not is_own_file(path):
        return False
    norm = os.path.normpath(path)
    return any(is_under(norm, root) for root in roots)


def in_stdlib(path: str | None, snapshot: Snapshot) -> bool:
    """``path`` is in ``snapshot``'s Python installation and not an installed package."""
    base = _norm(snapshot.interpreter.base_prefix)
    if not path or base is None:
        return False
    return is_under(os.path.normpath(path), base) and not _PACKAGES.search(path)


#: The anchors of the last few snapshots (a diff asks for them once per path it compares);
#: keyed by identity and checked by identity, so a new snapshot at a reused id never hits.
_RECENT: dict[tuple[int, str | None], tuple[Snapshot, Anchors]] = {}


def anchors_of(snapshot: Snapshot, project: str | None = None) -> Anchors:
    """The anchors of ``snapshot``; the first of two equal roots keeps its placeholder.

    ``project``: the project root to use when the snapshot records none (older snapshots);
    a recorded ``meta.project_root`` always wins, so a reference saved in another checkout
    anchors at that checkout.
    """
    key = (id(snapshot), project)
    hit = _RECENT.get(key)
    if hit is not None and hit[0] is snapshot:
        return hit[1]
    anchors = _compute(snapshot, project)
    if len(_RECENT) >= 8:
        _RECENT.clear()
    _RECENT[key] = (snapshot, anchors)
    return anchors


def _compute(snapshot: Snapshot, project: str | None) -> Anchors:
    seen: dict[str, str] = {}
    for root, placeholder in _pairs(snapshot, project):
        norm = _norm(root)
        if norm is not None:
            seen.setdefault(norm, placeholder)
    ordered = sorted(seen.items(), key=lambda item: len(item[0]), reverse=True)
    return Anchors(tuple(ordered))
