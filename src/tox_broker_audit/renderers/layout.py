"""The reader's view of a report shared by the text renderers: causes (with their chains), noise.

The causes keep the findings' order, which is the engine's ranking (``diagnosis/engine.py``):
the first cause a renderer prints is ``report.findings[0]``, the finding report.json puts
first, whether or not it heads a chain. A root cause is followed by the effects it explains
(its chain); a cause outside any chain has none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from tox_broker_audit.diagnosis.codes import category_of
from tox_broker_audit.diagnosis.model import Finding, Report

__all__ = ["Cause", "Layout", "category", "layout", "verification_line"]


@dataclasses.dataclass(frozen=True)
class Cause:
    """A cause as the reader sees it: the finding, then the effects it explains (its chain)."""

    finding: Finding
    effects: tuple[Finding, ...] = ()


@dataclasses.dataclass(frozen=True)
class Layout:
    causes: tuple[Cause, ...]  # root causes and error/warning "cause" findings, in findings' order
    other: tuple[Finding, ...]  # everything else except tox's expected noise
    expected: tuple[Finding, ...]

    @property
    def effect_count(self) -> int:
        return sum(len(cause.effects) for cause in self.causes)


def _effects(root: Finding, by_id: dict[str, Finding]) -> list[Finding]:
    out: list[Finding] = []
    seen = {root.id}
    stack = list(reversed(root.explains))
    while stack:
        fid = stack.pop()
        if fid in seen or fid not in by_id:
            continue
        seen.add(fid)
        found = by_id[fid]
        out.append(found)
        stack.extend(reversed(found.explains))
    order = {f.id: i for i, f in enumerate(by_id.values())}
    return sorted(out, key=lambda f: order[f.id])


def _is_cause(finding: Finding, first: bool) -> bool:
    """A root cause or a loud "cause"; and the top finding whenever it is a "cause" at all: the
    engine may rank a quiet one first (its chain is loud, or links form a cycle), and the first
    cause the reader sees must be ``findings[0]``."""
    if finding.root_cause:
        return True
    return finding.group == "cause" and (first or finding.severity in ("error", "warning"))


def _chain(root: Finding, by_id: dict[str, Finding], taken: set[int]) -> tuple[Finding, ...]:
    """What ``root`` explains and no earlier cause showed; an info effect only under an info root."""
    return tuple(
        e
        for e in _effects(root, by_id)
        if (e.severity != "info" or root.severity == "info") and id(e) not in taken
    )


def layout(report: Report) -> Layout:
    by_id = {f.id: f for f in report.findings}
    causes: list[Cause] = []
    taken: set[int] = set()  # findings already shown, by identity (hand-built ones may lack ids)
    for index, finding in enumerate(report.findings):
        if id(finding) in taken or not _is_cause(finding, first=index == 0):
            continue
        effects = _chain(finding, by_id, taken) if finding.root_cause else ()
        causes.append(Cause(finding, effects))
        taken.add(id(finding))
        taken.update(id(e) for e in effects)
    other = tuple(f for f in report.findings if id(f) not in taken and f.group != "expected")
    expected = tuple(f for f in report.findings if id(f) not in taken and f.group == "expected")
    return Layout(tuple(causes), other, expected)


def category(finding: Finding) -> tuple[str, str]:
    """The noun a summary counts ``finding`` under ("variable", "variables")."""
    return category_of(finding.code)


def count_words(findings: Sequence[Finding]) -> str:
    counts: dict[tuple[str, str], int] = {}
    for f in findings:
        key = category(f)
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{n} {one if n == 1 else many}" for (one, many), n in counts.items())


def verification_line(finding: Finding) -> str | None:
    """``confirmed: with UNIT_TESTS=1 passed into py, send_welcome binds to StubBroker (1 re-probe,
    0.4 s)``, or by the tests: ``…, tests/test_api.py::test_register passes (1 re-run, 0.9 s)``;
    None for a finding no experiment was about."""
    check = finding.verification
    if check is None:
        return None
    by_tests = check.oracle == "tests"
    effect = f", {check.effect}" if check.effect and check.status in ("confirmed", "refuted") else ""
    if check.status == "refuted":
        effect = f"; {'' if by_tests else 'still '}{check.effect}" if check.effect else ""
    if check.status == "inconclusive" and by_tests and check.effect:
        effect = f"; the failure moved on: {check.effect}"
    cost = ""
    if check.runs:
        unit = "re-run" if by_tests else "re-probe"
        cost = f" ({check.runs} {unit}{'s' if check.runs != 1 else ''}, {check.seconds:.1f} s)"
    return f"{check.status}: {check.intervention}{effect}{cost}"
