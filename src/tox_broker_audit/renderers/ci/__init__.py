"""What the CI formats (github, gitlab, sarif, azure) share: which findings, where, in what words.

Every string taken from a finding goes through :func:`clean` here (redacted, then
neutralised), *before* a format escapes or normalises it: escaping first would hide a
secret's shape from the redaction (``amqp%3A//``), and so would normalising a path
(``amqp://u:pw@`` becomes ``amqp:/u:pw@``). :func:`~tox_broker_audit.renderers.render` has
cleaned the report already; this is the same function again, for direct callers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ntpath
import posixpath
from collections.abc import Sequence
from typing import Any

from tox_broker_audit._sanitize import clean as _clean
from tox_broker_audit.diagnosis.model import Finding, Report
from tox_broker_audit.renderers.layout import verification_line

__all__ = [
    "Place",
    "absolute",
    "anchor",
    "annotated",
    "caused_by",
    "clean",
    "fingerprint",
    "fingerprints",
    "message",
    "place",
    "relative",
    "title",
]


@dataclasses.dataclass(frozen=True)
class Place:
    """A file (relative to the CI checkout, ``/``-separated) and maybe a line."""

    path: str
    line: int | None = None


def clean(text: object) -> str:
    return _clean(text)


def _is_abs(path: str) -> bool:
    return posixpath.isabs(path) or ntpath.isabs(path)


def relative(path: str, root: str | None) -> str | None:
    """``path`` relative to ``root`` with ``/`` separators, or None when it lies outside.

    Pure string work (no file system, no cwd): both are taken as given. A relative ``path`` is
    taken as relative to ``root`` already; without a ``root`` a path is left as it is.
    """
    if not path:
        return None
    mod = ntpath if (ntpath.isabs(path) and not posixpath.isabs(path)) else posixpath
    rel: str
    if not _is_abs(path):
        rel = mod.normpath(path)
    elif root is None:
        return path.replace("\\", "/")
    elif not _is_abs(root):
        return None
    else:
        try:
            rel = mod.relpath(mod.normpath(path), mod.normpath(root))
        except ValueError:  # another drive on Windows
            return None
    rel = rel.replace("\\", "/")
    if rel == ".." or rel.startswith("../") or rel == ".":
        return None
    return rel


def absolute(path: str, root: str | None) -> str:
    """``path`` as an absolute path when it can be made one (Azure wants absolute paths)."""
    if _is_abs(path) or root is None:
        return path
    return posixpath.join(root, path) if posixpath.isabs(root) else ntpath.join(root, path)


def _options(options: Any) -> tuple[str | None, str | None]:
    return getattr(options, "root", None), getattr(options, "config_file", None)


def place(finding: Finding, options: Any) -> Place | None:
    """Where the finding is, inside the checkout; None when it has no file there."""
    root, _ = _options(options)
    if finding.location is None:
        return None
    rel = relative(clean(finding.location.path), root)
    return Place(clean(rel), finding.location.line) if rel is not None else None


def anchor(finding: Finding, report: Report, options: Any) -> Place | None:
    """A place for a format that needs one: the finding's own, else the tox config, else any."""
    own = place(finding, options)
    if own is not None:
        return own
    root, config_file = _options(options)
    if config_file:
        rel = relative(clean(config_file), root)
        if rel is not None:
            return Place(clean(rel))
    for other in report.findings:
        found = place(other, options)
        if found is not None:
            return Place(found.path)
    return None


def annotated(report: Report) -> tuple[Finding, ...]:
    """The findings worth a CI annotation, root causes first, then in rank order.

    Errors and warnings, and any root cause; never tox's own expected noise (it is grouped
    in the report, not dropped) and never an info that explains nothing.
    """
    chosen = [f for f in report.findings if f.root_cause or (f.severity != "info" and f.group != "expected")]
    return tuple(sorted(chosen, key=lambda f: not f.root_cause))  # sorted() is stable: rank kept


def caused_by(finding: Finding, report: Report) -> tuple[Finding, ...]:
    """The findings that list ``finding`` among the ones they explain."""
    return tuple(f for f in report.findings if finding.id and finding.id in f.explains)


def _where(finding: Finding) -> str:
    if finding.location is None:
        return ""
    line = f":{finding.location.line}" if finding.location.line else ""
    return f"{finding.location.path}{line}"


def message(finding: Finding, report: Report, *, with_location: bool = True, sep: str = "\n") -> str:
    """The annotation text: what, why, the fix, the cause, where; one part per line by default."""
    parts: list[str] = [finding.title]
    if finding.detail:
        parts.append(finding.detail)
    if finding.fix:
        parts.append(f"fix: {finding.fix}")
    check = verification_line(finding)
    if check is not None:
        parts.append(check)
    parts.extend(f"caused by: {cause.title} [{cause.code}]" for cause in caused_by(finding, report))
    where = _where(finding)
    if with_location and where:
        parts.append(f"at: {where}")
    return sep.join(clean(part) for part in parts)  # the separator is ours: not escaped


def fingerprint(finding: Finding, env: str | None, *, salt: Sequence[str] = ()) -> str:
    """Stable across runs: code, subject and env (all redacted), never a value or a secret."""
    key = "\0".join((finding.code, clean(finding.subject), clean(env or ""), *salt))
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def fingerprints(findings: Sequence[Finding], env: str | None) -> list[str]:
    """:func:`fingerprint` of each finding, made unique within the list (the id breaks ties)."""
    out: list[str] = []
    for finding in findings:
        value = fingerprint(finding, env)
        if value in out:
            value = fingerprint(finding, env, salt=(finding.id, str(len(out))))
        out.append(value)
    return out


def title(finding: Finding, env: str | None) -> str:
    where = f" ({env})" if env else ""
    return clean(f"broker audit{where}: {finding.code} {finding.slug}")
