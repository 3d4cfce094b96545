"""The reader's view of a report shared by the text renderers: chains, other causes, noise."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from tox_broker_audit.diagnosis.codes import category_of
from tox_broker_audit.diagnosis.model import Finding, Report

__all__ = ["Layout", "category", "layout", "verification_line"]


@dataclasses.dataclass(frozen=True)
class Layout:
    chains: tuple[tuple[Finding, tuple[Finding, ...]], ...]  # (root cause, the effects it explains)
    causes: tuple[Finding, ...]  # error/warning "cause" findings outside any chain
    other: tuple[Finding, ...]  # everything else except tox's expected noise
    expected: tuple[Finding, ...]

    @property
    def effect_count(self) -> int:
        return sum(len(effects) for _, effects in self.chains)


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


def layout(report: Report) -> Layout:
    by_id = {f.id: f for f in report.findings}
    chains = []
    in_chain: set[str] = set()
    for finding in report.findings:
        if finding.root_cause:
            effects = [
                e
                for e in _effects(finding, by_id)
                if (e.severity != "info" or finding.severity == "info") and e.id not in in_chain
            ]
            chains.append((finding, tuple(effects)))
            in_chain.add(finding.id)
            in_chain.update(e.id for e in effects)
    causes = tuple(
        f
        for f in report.findings
        if f.id not in in_chain and f.group == "cause" and f.severity in ("error", "warning")
    )
    taken = in_chain | {f.id for f in causes}
    other = tuple(f for f in report.findings if f.id not in taken and f.group != "expected")
    expected = tuple(f for f in report.findings if f.id not in taken and f.group == "expected")
    return Layout(tuple(chains), causes, other, expected)


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
    0.4 s)``; None for a finding no experiment was about."""
    check = finding.verification
    if check is None:
        return None
    effect = f", {check.effect}" if check.effect and check.status in ("confirmed", "refuted") else ""
    if check.status == "refuted":
        effect = f"; still {check.effect}" if check.effect else ""
    cost = ""
    if check.runs:
        cost = f" ({check.runs} re-probe{'s' if check.runs != 1 else ''}, {check.seconds:.1f} s)"
    return f"{check.status}: {check.intervention}{effect}{cost}"
