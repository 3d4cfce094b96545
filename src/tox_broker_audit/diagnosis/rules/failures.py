"""BA901–BA902: what the probe could not capture, and collection errors on one side only."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from tox_broker_audit.diagnosis.hooks import hookimpl, rule
from tox_broker_audit.diagnosis.model import DiagnosisContext, Finding, Location
from tox_broker_audit.snapshot.model import CollectionError, Snapshot

from ._common import finding, named_in_crash, side_label
from .imports import missing_module_names

__all__ = ["broker_audit_rules", "collection_crash_rule", "collection_error_rule", "probe_issue_rule"]


@rule(needs_baseline=False)
def probe_issue_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA901 (info): sections a snapshot could not capture."""
    for side, snap in (("baseline", ctx.baseline), ("target", ctx.target)):
        if snap is None:
            continue
        for issue in snap.errors:
            yield finding(
                "BA901",
                "info",
                f"the {side} snapshot is incomplete ({issue.section}): "
                f"{issue.message.splitlines()[0] if issue.message else ''}",
                f"{side}:{issue.section}",
                f"The probe could not capture part of the {side} environment ({issue.section}): "
                f"{issue.message}",
                "findings about this section may be missing; run `broker-audit snapshot` by hand to "
                "investigate",
                about=[f"probe:{side}:{issue.section}"],
                group="other",
                score=1.0,
                side=side,
                section=issue.section,
            )


#: What a run that never got to collect cannot show: its differences are the crash's effects.
_NEVER_GOT_THERE = (
    "pytest:inifile",
    "pytest:rootdir",
    "pytest:import_mode",
    "pytest:testpaths",
    "pytest:addopts",
    "pytest:ini_pythonpath",
    "pytest:conftests",
    "pytest:plugin_order",
    "pytest:unknown_ini",
)


@rule(needs_baseline=False)
def collection_crash_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA902 (error): pytest stopped before collecting on one side (a conftest or settings module
    raised on import). It comes first: what that side never reached — its ini file, conftests,
    the modules the other side imported — are its effects; a variable it names explains it."""
    for side, snap, other in (("target", ctx.target, ctx.baseline), ("baseline", ctx.baseline, ctx.target)):
        if snap is None or not snap.pytest.crash or (other is not None and other.pytest.crash):
            continue
        if side == "baseline" and other is None:
            continue
        yield _crash_finding(ctx, side, snap, other)


def _crash_finding(ctx: DiagnosisContext, side: str, snap: Snapshot, other: Snapshot | None) -> Finding:
    crash = snap.pytest.crash or ""
    where = side_label(ctx, side)
    # The variables the crash names (read and missing here, or set only on the other side): their
    # findings explain it through env:NAME — not a neighbour read in the same settings module.
    here = {v.name for v in snap.environ.variables}
    candidates = {r.name for r in snap.environ.reads if not r.present}
    if other is not None:
        candidates |= {v.name for v in other.environ.variables} - here
    variables = sorted(n for n in candidates if n != "*" and named_in_crash(snap, n))
    about = [f"env:{n}" for n in variables]
    about += [f"module:{m}" for m in sorted(missing_module_names([crash]))]
    effects = list(_NEVER_GOT_THERE)
    if other is not None:
        mine = {o.module for o in snap.imports.origins}
        effects += [f"module:{o.module}" for o in other.imports.origins if o.module not in mine]
        effects += [f"file:{c}" for c in other.pytest.conftests]
    detail = (
        f"pytest stopped {where} before it collected anything (exit code {snap.pytest.exit_code}): {crash}."
        + (f" The code read {', '.join(variables)}, which is not set {where}." if variables else "")
        + " Everything that run never reached (its ini file, conftests, the modules the other run imported) "
        "differs because of this."
    )
    return finding(
        "BA902",
        # The env's own run crashing is the failure; the baseline crashing (the env's command run
        # in your venv) only means the comparison cannot see past that point there.
        "error" if side == "target" else "warning",
        f"pytest could not collect {where}: {crash}",
        "collection",
        detail,
        "see the finding that explains it (a variable or module the crashing code needs); "
        "reproduce with `pytest --collect-only`",
        about=about,
        effects_on=effects,
        group="cause",
        score=95.0,
        side=side,
        crash=crash,
        variables=variables,
        blind_spot=True,  # what it explains exists only because that run stopped (engine mutes it)
    )


def _error_file(snap: Snapshot, error: CollectionError) -> str | None:
    path = error.nodeid.split("::")[0]
    if not path or path == "<rootdir>" or not snap.pytest.rootdir:
        return None
    return os.path.join(snap.pytest.rootdir, path)


@rule(needs_baseline=False)
def collection_error_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA902: pytest collection errors on one side only (all target errors without a baseline)."""
    if ctx.diff is not None:
        sides = (
            ("target", ctx.diff.collection_errors_extra),
            ("baseline", ctx.diff.collection_errors_missing),
        )
    else:
        sides = (("target", ctx.target.pytest.collection_errors), ("baseline", ()))
    for side, errors in sides:
        snap = ctx.target if side == "target" else ctx.baseline
        assert snap is not None or not errors
        for error in errors:
            assert snap is not None
            modules = missing_module_names([error.message])
            file = _error_file(snap, error)
            only = (
                f" (not {side_label(ctx, 'baseline')})" if ctx.diff is not None and side == "target" else ""
            )
            yield finding(
                "BA902",
                "error" if side == "target" else "warning",
                f"collecting {error.nodeid} fails {side_label(ctx, side)}{only}: {error.message}",
                error.nodeid,
                f"pytest could not collect {error.nodeid} {side_label(ctx, side)}: {error.message}. "
                "Tests in it do not run there.",
                "see the findings that explain it; otherwise run the collection by hand: pytest "
                "--collect-only " + error.nodeid.split("::")[0],
                location=Location(file) if file else None,
                about=[f"module:{m}" for m in modules] + ([f"file:{file}"] if file else []),
                group="cause",
                score=20.0,
                side=side,
                message=error.message,
            )


@hookimpl
def broker_audit_rules() -> list[Callable[[DiagnosisContext], Iterable[Finding]]]:
    return [probe_issue_rule, collection_crash_rule, collection_error_rule]
