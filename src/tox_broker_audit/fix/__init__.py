"""The verified fix: a confirmed cause's change, written into the tox configuration it names.

Pure planning (:func:`plan`): from report.json's findings, each cause *confirmed* by an
experiment whose fix is a change to the configuration tox read (``pass_env``, ``set_env``,
``deps``) becomes a :class:`ConfigEdit` of that file — the whole new text, made with the
format-preserving library for its format (configupdater for ``tox.ini``/``setup.cfg`` and
the ``legacy_tox_ini`` a ``pyproject.toml`` embeds, tomlkit for ``tox.toml``/``pyproject.toml``),
so only the lines that change change. A
variable is always *passed* (``pass_env``), never its value written: a secret never lands in
the file. What is not a config change (code, a package the env should not have) is a
suggestion, never applied. Applying (the CLI's ``--apply``, tox's ``--broker-audit-fix=apply``)
is the front door's job; :func:`with_edits` puts each finding's change into the report as
:class:`~tox_broker_audit.diagnosis.model.Edit` hunks (report.json ``edits``, SARIF ``fixes``).
"""

from __future__ import annotations

import configparser
import dataclasses
import difflib
import os
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tox_broker_audit.diagnosis.model import Edit, Finding, Report
from tox_broker_audit.fix import _ini, _legacy, _toml

__all__ = [
    "CONFIG_FILES",
    "ConfigEdit",
    "FixPlan",
    "confirmed_changes",
    "dirty",
    "hunks",
    "plan",
    "plan_report",
    "shown_path",
    "with_edits",
]

#: The files tox reads its configuration from: the only files a fix is ever written into.
CONFIG_FILES = ("tox.ini", "setup.cfg", "tox.toml", "pyproject.toml")

#: The fix actions that are a change to the env's configuration, and the keys each one edits
#: (``-KEY``: the subject's entry is taken out of KEY). An override in ``set_env`` is removed,
#: so that the variable is passed (tox's ``set_env`` wins over ``pass_env``); a variable set
#: only under tox (``unset_env``) is taken out of ``set_env``; a value is never written, so a
#: secret never lands in the file.
_KEYS_OF = {
    "pass_env": ("pass_env",),
    "set_env": ("pass_env",),
    "override_env": ("-set_env", "pass_env"),
    "unset_env": ("-set_env",),
    "add_dep": ("deps",),
}


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
        usable = [(a, s, loc) for a, s, loc in changes if a in _KEYS_OF and _config_file(loc)]
        if not usable:
            suggestions.append(str(finding.get("fix") or finding.get("title") or ""))
            continue
        for action, subject, location in usable:
            assert location is not None
            for key in _KEYS_OF[action]:
                wanted.setdefault(str(location["path"]), []).append((key, subject, location.get("line")))
    edits = [_edit(path, items, reader) for path, items in wanted.items()]
    return FixPlan(tuple(e for e in edits if e is not None), tuple(s for s in suggestions if s))


def _config_file(location: Mapping[str, Any] | None) -> bool:
    path = str((location or {}).get("path") or "")
    return os.path.basename(path) in CONFIG_FILES


def _edit(path: str, items: Sequence[tuple[str, str, int | None]], read: Any) -> ConfigEdit | None:
    """The file's new text, or None when nothing changes or it cannot be read or parsed (the
    finding's ``fix`` still says what to do)."""
    try:
        before = read(path)
        kind = _kind(path, before)
        after, said = before, []
        for key, value, line in _unique(items):
            change = kind.remove if key.startswith("-") else kind.add
            after, words = change(after, line, key.lstrip("-"), value)
            if words:
                said.append(words)
    except (OSError, ValueError, configparser.Error):  # tomlkit's ParseError is a ValueError
        return None
    except Exception:  # noqa: BLE001 - a library that cannot make this edit: none, never a traceback
        return None
    after = _line_endings(before, after)
    if after == before:
        return None
    return ConfigEdit(path, before, after, tuple(said))


def _kind(path: str, text: str) -> Any:
    """The editor of the file's format: TOML, INI, or the INI a pyproject.toml embeds."""
    if not path.endswith(".toml"):
        return _ini
    return _legacy if os.path.basename(path) == "pyproject.toml" and _legacy.holds(text) else _toml


def _line_endings(before: str, after: str) -> str:
    """``after`` with its new and changed lines ending as the file's lines do (the libraries
    write ``\n``; a CRLF file stays CRLF)."""
    if before.count("\r\n") * 2 <= before.count("\n"):
        return after
    old = before.splitlines(keepends=True)
    new = after.splitlines(keepends=True)
    out: list[str] = []
    for tag, _i1, _i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        for line in new[j1:j2]:
            ends = line.endswith(("\n", "\r"))
            out.append(line if tag == "equal" or not ends else line.rstrip("\r\n") + "\r\n")
    return "".join(out)


def _unique(items: Iterable[tuple[str, str, int | None]]) -> list[tuple[str, str, int | None]]:
    return list(dict.fromkeys(items))


def _read(path: str) -> str:
    with open(path, encoding="utf-8", newline="") as fh:
        return fh.read()


def shown_path(path: str, root: str) -> str:
    """``path`` relative to ``root`` when it is inside it (for the diff's headers)."""
    rel = os.path.relpath(path, root)
    return path if rel.startswith("..") else rel


def hunks(edit: ConfigEdit) -> tuple[Edit, ...]:
    """The changed lines of ``edit``, each as whole lines before and after; a pure insertion
    takes the line above it along (so ``before`` is never empty and says where it goes)."""
    old = edit.before.splitlines(keepends=True)
    new = edit.after.splitlines(keepends=True)
    found: list[Edit] = []
    for tag, *span in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        i1, i2, j1, j2 = span
        if i1 == i2:  # an insertion: with the line above it (or below, at the top of the file)
            if i1 > 0:
                i1, j1 = i1 - 1, j1 - 1
            elif i2 < len(old):
                i2, j2 = i2 + 1, j2 + 1
        found.append(Edit(edit.path, i1 + 1, max(i2, i1 + 1), "".join(old[i1:i2]), "".join(new[j1:j2])))
    return tuple(found)


def _as_mapping(finding: Finding) -> dict[str, Any]:
    """The keys of report.json :func:`plan` reads, from the model."""
    return {
        "title": finding.title,
        "fix": finding.fix,
        "change": dataclasses.asdict(finding.change) if finding.change else None,
        "location": dataclasses.asdict(finding.location) if finding.location else None,
        "verification": {"status": finding.verification.status} if finding.verification else None,
        "evidence": {"changes": finding.evidence.get("changes")} if "changes" in finding.evidence else {},
    }


def plan_report(report: Report, read: Callable[[str], str] | None = None) -> FixPlan:
    """:func:`plan` of a report in the model (the front doors have it before report.json)."""
    return plan({"findings": [_as_mapping(f) for f in report.findings]}, read)


def confirmed_changes(report: Report) -> list[tuple[Finding, tuple[str, str, str] | None]]:
    """Each confirmed finding's structured change(s) — ``(action, subject, value)``, a BA701's
    parts each; None for one that has none — for a front door that words them as code (nox)."""
    found: list[tuple[Finding, tuple[str, str, str] | None]] = []
    for finding in report.findings:
        if finding.verification is None or finding.verification.status != "confirmed":
            continue
        parts = finding.evidence.get("changes")
        if isinstance(parts, list) and parts:
            found.extend(
                (finding, (str(p.get("action")), str(p.get("subject")), str(p.get("value") or "")))
                for p in parts
                if isinstance(p, Mapping)
            )
        elif finding.change is not None:
            found.append((finding, (finding.change.action, finding.change.subject, finding.change.value)))
        else:
            found.append((finding, None))
    return found


def with_edits(report: Report, read: Callable[[str], str] | None = None) -> Report:
    """``report`` with each confirmed cause's config change as its ``edits`` (the others unchanged)."""
    findings = []
    for finding in report.findings:
        edits: tuple[Edit, ...] = ()
        if finding.verification is not None and finding.verification.status == "confirmed":
            fixes = plan({"findings": [_as_mapping(finding)]}, read)
            edits = tuple(h for e in fixes.edits for h in hunks(e))
        findings.append(dataclasses.replace(finding, edits=edits) if edits else finding)
    return dataclasses.replace(report, findings=tuple(findings))


def dirty(path: str) -> bool:
    """The file has uncommitted changes in a git checkout (no git, no checkout: it has not)."""
    try:
        proc = subprocess.run(
            ["git", "status", "--porcelain", "--", os.path.basename(path)],
            cwd=os.path.dirname(path) or ".",
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0 and bool(proc.stdout.strip())
