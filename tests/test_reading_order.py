"""The reader sees ``findings[0]`` first: terminal and report.md follow the engine's ranking.

The layout groups causes with the effects they explain (chains), but whatever it groups, the
first finding a user reads in the terminal or in report.md, and the one the headline names, is
the first of report.json's ``findings``. (On a real project the terminal led with a BA305
chain while report.json led with a chain-less BA101.)
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from tox_broker_audit.diagnosis.engine import rank
from tox_broker_audit.diagnosis.model import Finding, Report
from tox_broker_audit.renderers import render
from tox_broker_audit.renderers.json import report_to_dict

_TOKENS = ("a", "b", "c", "d")
_CODES = ("BA101", "BA202", "BA301", "BA305", "BA401", "BA601", "BA902")
_FINDING_LINE = re.compile(r"^[✖▲·] (?P<title>.*)   \[(?P<code>BA\d+)\]$")
_MD_BLOCK = re.compile(r"^### \S+ (?P<title>.*) \((?P<code>BA\d+) `[^`]*`\)$")


def _terminal_first(text: str) -> str | None:
    """The title of the first finding line the terminal prints (its headline excepted)."""
    for line in text.splitlines()[1:]:
        match = _FINDING_LINE.match(line.strip())
        if match:
            return match["title"]
    return None


def _markdown_first(text: str) -> str | None:
    for line in text.splitlines():
        match = _MD_BLOCK.match(line)
        if match:
            return match["title"]
    return None


@st.composite
def _finding(draw: st.DrawFn, index: int) -> Finding:
    code = draw(st.sampled_from(_CODES))
    return Finding(
        code=code,
        slug="s",
        severity=draw(st.sampled_from(["error", "warning", "info"])),
        title=f"finding {index} ({code})",  # unique: a printed title names one finding
        subject=f"S{index}",
        detail="d",
        fix=f"fix {index}",
        evidence={
            "about": draw(st.lists(st.sampled_from(_TOKENS), max_size=2)),
            "effects_on": draw(st.lists(st.sampled_from(_TOKENS), max_size=2)),
        },
        score=draw(st.floats(0, 10, allow_nan=False)),
        group=draw(st.sampled_from(["cause", "cause", "other", "expected"])),
    )


@st.composite
def _reports(draw: st.DrawFn) -> Report:
    """Random findings, linked and ranked by the real engine, as ``diagnose`` would."""
    n = draw(st.integers(1, 8))
    found = [draw(_finding(i)) for i in range(n)]
    passed = draw(st.booleans())
    ranked = rank(found, escalate=draw(st.booleans()), passed=passed)
    return Report(
        env="py",
        baseline=None,
        target=None,
        findings=tuple(ranked),
        outcome="passed" if passed else "failed",
    )


@settings(max_examples=200, deadline=None)
@given(_reports())
def test_the_first_finding_printed_is_findings_0(report: Report) -> None:
    first = report_to_dict(report)["findings"][0]
    terminal = render(report, "terminal", color=False)
    markdown = render(report, "markdown")
    shown = _terminal_first(terminal)
    # Either the terminal leads with findings[0], or it shows no cause at all (only counts).
    assert shown in (first["title"], None), terminal
    assert _markdown_first(markdown) == shown, markdown
    if shown is not None:
        assert f"({first['subject']} [{first['code']}])" in terminal.splitlines()[0]
    verbose = render(report, "terminal", color=False, verbose=True)
    assert _terminal_first(verbose) == first["title"], verbose


def _ba305_chain_below_ba101() -> Report:
    """The real-project case, ranked by the engine: a chain-less BA101 error ranks above a
    BA305 root cause whose chain is only warnings."""
    unit_tests = Finding(
        code="BA101",
        slug="env-missing",
        severity="error",
        title="UNIT_TESTS is set locally but not under tox",
        subject="UNIT_TESTS",
        detail="d",
        fix="tox.ini:4 [testenv]  add  pass_env = UNIT_TESTS",
        score=9.0,
        group="cause",
    )
    plugin = Finding(
        code="BA305",
        slug="plugin-only-local",
        severity="warning",
        title="a pytest plugin loads only locally",
        subject="pytest-env",
        detail="d",
        fix="add pytest-env to deps",
        evidence={"effects_on": ["conftest"]},
        score=5.0,
        group="cause",
    )
    effect = Finding(
        code="BA401",
        slug="conftest-differs",
        severity="warning",
        title="conftest.py sees other options",
        subject="conftest",
        detail="d",
        fix="f",
        evidence={"about": ["conftest"]},
        group="cause",
    )
    ranked = rank([plugin, effect, unit_tests], escalate=True)
    return Report(env="py312", baseline=None, target=None, findings=tuple(ranked), outcome="failed")


def test_a_chainless_cause_ranked_first_is_printed_first() -> None:
    report = _ba305_chain_below_ba101()
    # The engine's ranking, which the renderers must follow (and must not change).
    assert [f.code for f in report.findings] == ["BA101", "BA305", "BA401"]
    assert report.findings[1].root_cause
    assert report.findings[1].explains == (report.findings[2].id,)
    lines = render(report, "terminal", color=False).splitlines()
    assert lines[0].startswith("py312: broker audit — 2 causes found (UNIT_TESTS [BA101]), 1 effect")
    assert lines[1] == "✖ UNIT_TESTS is set locally but not under tox   [BA101]"
    assert lines[2] == "  fix: tox.ini:4 [testenv]  add  pass_env = UNIT_TESTS"
    # The chain still reads as a chain, after it.
    assert lines[3] == "▲ a pytest plugin loads only locally   [BA305]"
    assert lines[4].strip() == "so       conftest.py sees other options   [BA401]"
    markdown = render(report, "markdown")
    blocks = [line for line in markdown.splitlines() if line.startswith("### ")]
    assert [m["code"] for b in blocks if (m := _MD_BLOCK.match(b))] == ["BA101", "BA305"]
