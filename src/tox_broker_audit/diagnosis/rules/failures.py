"""BA901–BA902: what the probe could not capture, and collection errors on one side only."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from tox_broker_audit.diagnosis.hooks import hookimpl, rule
from tox_broker_audit.diagnosis.model import DiagnosisContext, Finding, Location
from tox_broker_audit.snapshot.model import CollectionError, Snapshot

from ._common import finding, side_label
from .imports import missing_module_names

__all__ = ["broker_audit_rules", "collection_error_rule", "probe_issue_rule"]


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
    return [probe_issue_rule, collection_error_rule]
