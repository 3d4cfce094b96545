"""The ``terminal`` format: root cause first in one sentence, the chain, the fix, then the rest counted.

Without ``verbose`` the report of a single-cause case fits on one screen; ``-v`` lists every
finding with its explanation and fix. Causes are printed in the findings' order (the engine's
ranking, see :mod:`.layout`): the first finding line, and the one the headline names, is
report.json's ``findings[0]``, whether it heads a chain or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tox_broker_audit.diagnosis.model import Finding, Report
from tox_broker_audit.renderers.layout import Cause, Layout, count_words, layout, verification_line

__all__ = ["TerminalRenderer"]

_MARK = {"error": "✖", "warning": "▲", "info": "·"}
_COLOR = {"error": "31;1", "warning": "33;1", "info": "2", "dim": "2", "fix": "32", "head": "1"}
_MAX_CAUSES = 3
_MAX_EFFECTS = 5


class _Out:
    def __init__(self, color: bool) -> None:
        self.color = color
        self.lines: list[str] = []

    def paint(self, text: str, style: str) -> str:
        if not self.color or not text:
            return text
        return f"\x1b[{_COLOR[style]}m{text}\x1b[0m"

    def add(self, text: str = "") -> None:
        self.lines.append(text)


def _noise_words(findings: Sequence[Finding]) -> str:
    names: list[str] = []
    for f in findings:
        subject = f.subject
        if f.code.startswith("BA10"):
            for prefix in ("TOX_", "PIP_"):
                if subject.startswith(prefix):
                    subject = prefix + "*"
        elif f.code == "BA203":
            subject = f"{f.subject} {f.evidence.get('baseline')} vs {f.evidence.get('target')}"
        if subject not in names:
            names.append(subject)
    shown = ", ".join(names[:8])
    return shown + (f", … (+{len(names) - 8})" if len(names) > 8 else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _headline(report: Report, lay: Layout) -> str:
    """One line whose counts are exactly the sections ``-v`` lists."""
    env = f"{report.env}: broker audit" if report.env else "broker audit"
    n_causes = len(lay.causes)
    first = lay.causes[0].finding if lay.causes else None
    named = f" ({first.subject} [{first.code}])" if first is not None else ""
    # With nothing to compare with (a CI job without a reference) a finding is a fact of this
    # env alone, never a "difference".
    compared = report.baseline is not None
    what = "difference" if compared else "finding"
    if report.outcome == "passed":
        # Nothing failed, so nothing is "the cause": say what could break isolation instead.
        alone = "" if compared else " of this env alone"
        parts = [
            f"tests passed; {_plural(n_causes, what)}{alone} could break isolation{named}"
            if n_causes
            else f"tests passed; no {what} explains a failure"
        ]
    else:
        parts = [f"{_plural(n_causes, 'cause')} found{named}" if n_causes else "no likely cause found"]
    if lay.effect_count:
        parts.append(_plural(lay.effect_count, "effect"))
    parts.append(_plural(len(lay.other), f"other {what}"))
    if lay.expected:
        parts.append(_plural(len(lay.expected), f"expected {_runner(report)} {what}"))
    return f"{env} — {', '.join(parts)}"


def _finding_line(out: _Out, f: Finding, indent: str = "") -> None:
    mark = out.paint(_MARK[f.severity], f.severity)
    out.add(f"{indent}{mark} {f.title}   {out.paint('[' + f.code + ']', 'dim')}")


def _summary_line(f: Finding) -> str:
    summary = f.evidence.get("summary")
    return str(summary) if summary else ""


def _cause(out: _Out, cause: Cause) -> None:
    """The cause, its summary, the effects it explains ("so …", "and …"), its fix."""
    root, effects = cause.finding, cause.effects
    _finding_line(out, root)
    summary = _summary_line(root)
    if summary:
        out.add(f"    {summary}")
    shown = effects[:_MAX_EFFECTS]
    for i, effect in enumerate(shown):
        word = "and" if i == len(shown) - 1 and len(shown) > 1 else "so"
        out.add(f"    {word:<8} {effect.title}   {out.paint('[' + effect.code + ']', 'dim')}")
    if len(effects) > len(shown):
        out.add(f"    {'':<8} … {len(effects) - len(shown)} more effects — -v to list")
    out.add(f"  {out.paint('fix:', 'fix')} {root.fix}")
    _verification(out, root, "  ")


def _verification(out: _Out, f: Finding, indent: str) -> None:
    line = verification_line(f)
    if line is not None:
        style = "fix" if f.verification is not None and f.verification.status == "confirmed" else "dim"
        out.add(f"{indent}{out.paint(line, style)}")


def _local_crash(report: Report) -> str | None:
    """The local run's crash when it is no cause (its env passed): still worth one line."""
    for f in report.findings:
        if f.code == "BA902" and f.evidence.get("side") == "baseline" and f.evidence.get("crash"):
            return f.title
    return None


def _runner(report: Report) -> str:
    """Whose own noise the expected differences are: tox's, or nox's for a nox session."""
    return "nox" if report.target is not None and report.target.kind == "nox-session" else "tox"


def _verbose(out: _Out, report: Report, lay: Layout) -> None:
    """Every finding, in the sections (and counts) the headline names."""
    sections = (
        ("causes", [cause.finding for cause in lay.causes]),
        ("effects", [effect for cause in lay.causes for effect in cause.effects]),
        ("other differences", list(lay.other)),
        (f"expected {_runner(report)} differences", list(lay.expected)),
    )
    for label, items in sections:
        if not items:
            continue
        out.add(out.paint(f"{label} ({len(items)}):", "head"))
        for f in items:
            _finding_line(out, f, "  ")
            out.add(f"      {f.detail}")
            if f.explains:
                out.add(f"      explains: {', '.join(f.explains)}")
            loc = (
                f" ({f.location.path}{':' + str(f.location.line) if f.location and f.location.line else ''})"
                if f.location
                else ""
            )
            out.add(f"      {out.paint('fix:', 'fix')} {f.fix}{loc}   id={f.id}")
            _verification(out, f, "      ")


def _brief(out: _Out, report: Report, lay: Layout) -> None:
    """The first causes (findings' order) with their chains and fixes; the rest counted."""
    for cause in lay.causes[:_MAX_CAUSES]:
        _cause(out, cause)
    hidden = len(lay.causes) - _MAX_CAUSES
    if hidden > 0:
        out.add(f"{hidden} more possible cause{'s' if hidden != 1 else ''} — -v to list")
    if not lay.causes:
        out.add("nothing that could break broker isolation differs between the two runs")
        blind = _local_crash(report)
        if blind:
            out.add(f"note: {blind}; the comparison could not see past that point")
    if lay.other:
        out.add(
            out.paint(
                f"other differences (not used by your code): {count_words(lay.other)} — -v to list",
                "dim",
            )
        )
    if lay.expected:
        noise = _noise_words(lay.expected)
        out.add(out.paint(f"expected {_runner(report)} differences: {noise}", "dim"))


class TerminalRenderer:
    name = "terminal"

    def __call__(self, report: Report, options: Any, /) -> str:
        out = _Out(bool(getattr(options, "color", False)))
        lay = layout(report)
        out.add(out.paint(_headline(report, lay), "head"))
        if report.baseline is not None and report.baseline.kind == "reference":  # drift: against what
            out.add(f"compared with {report.baseline.description}")
        if getattr(options, "verbose", False):
            _verbose(out, report, lay)
        else:
            _brief(out, report, lay)
        artefacts = getattr(options, "artefacts", ())
        if artefacts:
            out.add(f"artefacts: {', '.join(artefacts)}")
        return "\n".join(out.lines) + "\n"
