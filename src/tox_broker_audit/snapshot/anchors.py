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
Pure functions over the snapshot model.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable

from tox_broker_audit.snapshot.model import Snapshot

__all__ = ["Anchors", "anchors_of"]

#: Anchors too short to mean anything: every path would hang from them.
_TOO_SHORT = {"", os.sep, "/", "."}


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
            if norm == root:
                return placeholder
            if norm.startswith(root + os.sep):
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


def _variable(snapshot: Snapshot, name: str) -> str | None:
    for var in snapshot.environ.variables:
        if var.name == name and not var.secret:
            return var.value
    return None


def _pairs(snapshot: Snapshot) -> Iterable[tuple[str | None, str]]:
    interp = snapshot.interpreter
    yield interp.prefix, "<prefix>"
    yield interp.base_prefix, "<base>"
    yield _variable(snapshot, "TOX_WORK_DIR"), "<toxworkdir>"
    yield getattr(snapshot.meta, "project_root", None), "<project>"
    yield _variable(snapshot, "HOME"), "<home>"


#: The anchors of the last few snapshots (a diff asks for them once per path it compares);
#: keyed by identity and checked by identity, so a new snapshot at a reused id never hits.
_RECENT: dict[int, tuple[Snapshot, Anchors]] = {}


def anchors_of(snapshot: Snapshot) -> Anchors:
    """The anchors of ``snapshot``; the first of two equal roots keeps its placeholder."""
    hit = _RECENT.get(id(snapshot))
    if hit is not None and hit[0] is snapshot:
        return hit[1]
    anchors = _compute(snapshot)
    if len(_RECENT) >= 8:
        _RECENT.clear()
    _RECENT[id(snapshot)] = (snapshot, anchors)
    return anchors


def _compute(snapshot: Snapshot) -> Anchors:
    seen: dict[str, str] = {}
    for root, placeholder in _pairs(snapshot):
        if not root or not os.path.isabs(root):
            continue
        norm = os.path.normpath(root)
        if norm not in _TOO_SHORT:
            seen.setdefault(norm, placeholder)
    ordered = sorted(seen.items(), key=lambda item: len(item[0]), reverse=True)
    return Anchors(tuple(ordered))
