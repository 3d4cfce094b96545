"""Differences from a reference snapshot said as drift, where they were made (docs/ci.md).

When the baseline is a saved reference (:mod:`..snapshot.reference`), a package that is new is
not "installed only under tox": it ``was added since the reference``, and the place to look is
the line that declares it (a ``deps`` line, a requirements file, a pyproject.toml extra), else
the env's section. The severities stay the rules' own: what nobody used is information, in the
full report, and only drift that can matter (used by code, plugins, start-up, pytest config)
reaches the CI annotations. A Python patch release is information, a new minor a warning
(``rules/startup.py``).
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Sequence

from packaging.utils import canonicalize_name

from tox_broker_audit.diagnosis.model import DiagnosisContext, Finding, Location
from tox_broker_audit.snapshot.model import Snapshot

__all__ = ["is_reference", "word_drift"]

_DIST_CODES = ("BA201", "BA202", "BA203", "BA204")


def is_reference(ctx: DiagnosisContext) -> bool:
    """The baseline is a saved reference: the comparison is a drift check."""
    return ctx.baseline is not None and ctx.baseline.meta.source.kind == "reference"


def _dist(finding: Finding) -> str | None:
    if finding.code in _DIST_CODES:
        return canonicalize_name(finding.subject)
    plugin = finding.evidence.get("plugin")
    if finding.code == "BA401" and isinstance(plugin, dict) and plugin.get("distribution"):
        return canonicalize_name(str(plugin["distribution"]))
    return None


def _version(snapshot: Snapshot | None, name: str) -> tuple[str, str] | None:
    """(name as installed, version) of ``name`` in ``snapshot``."""
    for dist in snapshot.distributions if snapshot is not None else ():
        if canonicalize_name(dist.name) == name and not dist.shadowed:
            return dist.raw_name, dist.version
    return None


def _plugin_title(finding: Finding, ctx: DiagnosisContext, name: str) -> str | None:
    plugin = finding.evidence.get("plugin") or {}
    added = finding.evidence.get("side") == "target"
    found = _version(ctx.target if added else ctx.baseline, name)
    if found is None:
        return None
    raw, version = found
    title = (
        f"{raw} {version} was added since the reference: its pytest plugin {plugin.get('name')} now loads"
        if added
        else f"{raw} {version} was removed since the reference: its pytest plugin "
        f"{plugin.get('name')} no longer loads"
    )
    app = finding.evidence.get("imported_app_modules") or []
    return title + (f" and imports {app[0]} at plugin-load time" if app else "")


def _title(finding: Finding, ctx: DiagnosisContext) -> str | None:
    """The drift wording of ``finding``, or None to keep the rule's own."""
    name = _dist(finding)
    if finding.code == "BA401":
        return _plugin_title(finding, ctx, name) if name else None
    if finding.code == "BA306" and finding.subject == "python":
        b, t = finding.evidence.get("baseline"), finding.evidence.get("target")
        patch = str(b).split(".")[:2] == str(t).split(".")[:2]
        return f"Python changed from {b} to {t} since the reference" + (" (a patch release)" if patch else "")
    if name is None or finding.code == "BA204":
        return None
    if finding.code == "BA203":
        b, t = finding.evidence.get("baseline"), finding.evidence.get("target")
        return f"{finding.subject} changed from {b} to {t} since the reference"
    added = finding.code == "BA202"
    found = _version(ctx.target if added else ctx.baseline, name)
    if found is None:
        return None
    return f"{found[0]} {found[1]} was {'added' if added else 'removed'} since the reference"


def _declared_at(finding: Finding, ctx: DiagnosisContext) -> Location | None:
    """The line declaring the finding's dependency, else the env's section; None if unknown."""
    name = _dist(finding)
    if name is None or ctx.tox is None:
        return None
    found = ctx.tox.dependency_lines.get(name)
    if found is not None:
        return found
    if ctx.tox.ini_path:
        return Location(ctx.tox.ini_path, ctx.tox.section_line)
    return None


def _refresh(ctx: DiagnosisContext) -> str:
    assert ctx.baseline is not None
    directory = posixpath.dirname(ctx.baseline.meta.source.name or "") or "DIR"
    return f"if intended, refresh the reference: `tox --broker-audit --broker-audit-save={directory}`"


def _undo(finding: Finding) -> str:
    """How to go back to the reference, when the drift was not meant."""
    b, t = finding.evidence.get("baseline"), finding.evidence.get("target")
    name = _dist(finding) or finding.subject
    if finding.code == "BA306":
        return f"if unintended, run Python {b} again (tox: basepython)"
    if finding.code == "BA203":
        return f"if unintended, pin {finding.subject}=={b} in the env's dependencies (it is {t} now)"
    added = finding.code == "BA202" or finding.evidence.get("side") == "target"
    if added:
        return f"if unintended, remove {name} from the env's dependencies"
    return f"if unintended, add {name} back to the env's dependencies"


def word_drift(findings: Sequence[Finding], ctx: DiagnosisContext) -> list[Finding]:
    """Drift titles, fixes and locations when the baseline is a reference; else ``findings``."""
    if not is_reference(ctx):
        return list(findings)
    out = []
    for finding in findings:
        title = _title(finding, ctx)
        if title is None:
            out.append(finding)
            continue
        plugin_fix = finding.code == "BA401" and bool(finding.evidence.get("imported_app_modules"))
        fix = finding.fix if plugin_fix else f"{_undo(finding)}; {_refresh(ctx)}"
        location = finding.location or _declared_at(finding, ctx)
        out.append(dataclasses.replace(finding, title=title, fix=fix, location=location))
    return out
