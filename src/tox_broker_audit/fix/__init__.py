"""The verified fix: a confirmed cause's change, written into the tox configuration it names.

Pure planning (:func:`plan`): from report.json's findings, each cause *confirmed* by an
experiment whose fix is a change to the configuration tox read (``pass_env``, ``set_env``,
``deps``) becomes a :class:`ConfigEdit` of that file — the whole new text, made with the
format-preserving library for its format (configupdater for ``tox.ini``/``setup.cfg``,
tomlkit for ``tox.toml``/``pyproject.toml``), so only the lines that change change. A
variable is always *passed* (``pass_env``), never its value written: a secret never lands in
the file. What is not a config change (code, a package the env should not have) is a
suggestion, never applied. Applying (the CLI's ``--apply``) is the front door's job.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tox_broker_audit.fix import _ini, _toml

__all__ = ["ConfigEdit", "FixPlan", "plan"]

#: The fix actions that are a change to the env's configuration, and the key each one edits.
_KEY_OF = {"pass_env": "pass_env", "set_env": "pass_env", "override_env": "pass_env", "add_dep": "deps"}


@dataclasses.dataclass(frozen=True)
class ConfigEdit:
    """One file's change: its text before and after (``changes``: what was added, in words)."""

    path: str
    before: str
    after: str
    changes: tuple[str, ...]

    def diff(self, shown: str | None = None) -> str:
        name = shown or self.path
        lines = difflib.unified_diff(
            self.before.splitlines(keepends=True),
            self.after.splitlines(keepends=True),
            fromfile=f"a/{name}",
            tofile=f"b/{name}",
        )
        return "".join(lines)


@dataclasses.dataclass(frozen=True)
class FixPlan:
    edits: tuple[ConfigEdit, ...]
    #: Confirmed causes whose fix is not a config change: said, not applied.
    suggestions: tuple[str, ...]


def _confirmed(finding: Mapping[str, Any]) -> bool:
    verification = finding.get("verification") or {}
    return verification.get("status") == "confirmed"


def _changes(finding: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any] | None]]:
    """``(action, subject, location)`` of the finding's change, or of each part of a BA701."""
    parts = (finding.get("evidence") or {}).get("changes")
    if isinstance(parts, list):
        return [(str(p.get("action")), str(p.get("subject")), p.get("location")) for p in parts if p]
    change = finding.get("change") or {}
    if not change:
        return []
    return [(str(change.get("action")), str(change.get("subject")), finding.get("location"))]


def plan(report: Mapping[str, Any], read: Any = None) -> FixPlan:
    """The edits the report's confirmed causes make; ``read(path) -> str`` reads a file (the
    default reads it from disk)."""
    reader = read or _read
    wanted: dict[str, list[tuple[str, str, int | None]]] = {}
    suggestions: list[str] = []
    for finding in report.get("findings") or ():
        if not _confirmed(finding):
            continue
        changes = _changes(finding)
        usable = [(a, s, loc) for a, s, loc in changes if a in _KEY_OF and loc and loc.get("path")]
        if not usable:
            suggestions.append(str(finding.get("fix") or finding.get("title") or ""))
            continue
        for action, subject, location in usable:
            assert location is not None
            entry = (_KEY_OF[action], subject, location.get("line"))
            wanted.setdefault(str(location["path"]), []).append(entry)
    edits = [_edit(path, items, reader) for path, items in wanted.items()]
    return FixPlan(tuple(e for e in edits if e is not None), tuple(s for s in suggestions if s))


def _edit(path: str, items: Sequence[tuple[str, str, int | None]], read: Any) -> ConfigEdit | None:
    before = read(path)
    kind = _toml if path.endswith(".toml") else _ini
    after, said = before, []
    for key, value, line in _unique(items):
        after, words = kind.add(after, line, key, value)
        if words:
            said.append(words)
    if after == before:
        return None
    return ConfigEdit(path, before, after, tuple(said))


def _unique(items: Iterable[tuple[str, str, int | None]]) -> list[tuple[str, str, int | None]]:
    return list(dict.fromkeys(items))


def _read(path: str) -> str:
    with open(path, encoding="utf-8", newline="") as fh:
        return fh.read()


def shown_path(path: str, root: str) -> str:
    """``path`` relative to ``root`` when it is inside it (for the diff's headers)."""
    rel = os.path.relpath(path, root)
    return path if rel.startswith("..") else rel
