"""Renderers: terminal, json (report.json as docs/architecture.md says), markdown; colour; redaction."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from io import StringIO

from _snapshot_factory import PROJECT, make_snapshot, origin, read
from tox_broker_audit.diagnosis.engine import diagnose
from tox_broker_audit.diagnosis.model import Finding, Report, ToxFacts
from tox_broker_audit.renderers import available_formats, render, should_color
from tox_broker_audit.renderers.json import report_to_dict

B, T = "/proj/.venv", "/proj/.tox/py312"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def unit_tests_report() -> Report:
    app = [origin("app.broker", f"{PROJECT}/app/broker.py", in_project=True)]
    noise = {f"LOCAL_{i}": "x" for i in range(12)}
    base = make_snapshot(
        prefix=B,
        env={"UNIT_TESTS": "1", **noise},
        reads=[read("UNIT_TESTS", f"{PROJECT}/app/broker.py", module="app.broker", line=7)],
        origins=app,
    )
    target = make_snapshot(
        prefix=T,
        env={"TOX_ENV_NAME": "py312", "TOX_WORK_DIR": "/w", "PYTHONHASHSEED": "3"},
        hashseed="3",
        origins=app,
        reads=[read("UNIT_TESTS", f"{PROJECT}/app/broker.py", module="app.broker", line=7, present=False)],
    )
    tox = ToxFacts(ini_path=f"{PROJECT}/tox.ini", ini_section="testenv", section_line=4)
    return diagnose(base, target, env_name="py312", tox=tox)


def test_builtin_formats_are_registered() -> None:
    assert {"terminal", "json", "markdown"} <= set(available_formats())


def test_terminal_names_the_cause_first_and_fits_on_a_screen() -> None:
    text = render(
        unit_tests_report(), "terminal", color=False, artefacts=[".tox/py312/broker-audit/report.json"]
    )
    lines = text.splitlines()
    assert len(lines) <= 25
    assert lines[0].startswith("py312: broker audit — 1 cause found")
    assert "UNIT_TESTS" in lines[1]
    assert "[BA101]" in lines[1]
    assert any(
        line.strip().startswith("fix: tox.ini:4 [testenv]  add  pass_env = UNIT_TESTS") for line in lines
    )
    assert any(line.startswith("other differences (not used by your code): 12 variables") for line in lines)
    assert any(line.startswith("expected tox differences: ") and "TOX_*" in line for line in lines)
    assert lines[-1] == "artefacts: .tox/py312/broker-audit/report.json"
    assert not ANSI.search(text)


def test_verbose_lists_every_finding() -> None:
    report = unit_tests_report()
    text = render(report, "terminal", verbose=True, color=False)
    for finding in report.findings:
        assert f"id={finding.id}" in text


def test_colour_only_when_asked_and_no_color_is_honoured() -> None:
    assert ANSI.search(render(unit_tests_report(), "terminal", color=True))
    assert not should_color(StringIO(), environ={})
    assert not should_color(sys.stdout, environ={"NO_COLOR": ""})
    assert should_color(StringIO(), environ={"FORCE_COLOR": "1"})

    class Tty(StringIO):
        def isatty(self) -> bool:
            return True

    assert should_color(Tty(), environ={})
    assert not should_color(Tty(), environ={"NO_COLOR": "1"})


def test_json_follows_the_report_contract() -> None:
    report = unit_tests_report()
    data = json.loads(render(report, "json"))
    assert data == report_to_dict(report)
    assert list(data) == [
        "schema",
        "schema_version",
        "env",
        "baseline",
        "target",
        "outcome",
        "summary",
        "findings",
    ]
    assert data["schema"] == "tox-broker-audit/report"
    assert isinstance(data["schema_version"], int)
    assert data["env"] == "py312"
    assert data["summary"] == report.summary
    first = data["findings"][0]
    for key in (
        "code",
        "slug",
        "severity",
        "title",
        "subject",
        "detail",
        "fix",
        "location",
        "evidence",
        "root_cause",
        "explains",
        "id",
    ):
        assert key in first
    assert first["location"] == {"path": f"{PROJECT}/tox.ini", "line": 4}
    assert data["baseline"]["python"] == f"{B}/bin/python"


def _secret_report() -> Report:
    secret = "ghp_" + "a1b2c3d4e5" * 4
    finding = Finding(
        code="BA103",
        slug="env-changed",
        severity="error",
        title=f"token {secret} leaked",
        subject="X",
        detail=f"amqp://user:hunter2@host/ {secret}",
        fix="none",
        evidence={"url": "redis://:s3cret@h:6379/0"},
        id="BA103-x",
    )
    return Report(env="e|nv", baseline=None, target=None, findings=(finding,))


def test_every_renderer_redacts_secrets() -> None:
    report = _secret_report()
    for fmt in ("terminal", "json", "markdown"):
        for verbose in (False, True):
            text = render(report, fmt, verbose=verbose, color=False)
            assert "ghp_" not in text, fmt
            assert "hunter2" not in text, fmt
            assert "s3cret" not in text, fmt


def test_markdown_escapes_table_cells() -> None:
    text = render(_secret_report(), "markdown", color=False)
    assert "## Broker audit: e\\|nv" in text
    assert "| 1 | BA103 | error |" in text
    empty = render(Report(env=None, baseline=None, target=None, findings=()), "markdown")
    assert "No differences found." in empty


def test_headline_counts_are_the_verbose_sections() -> None:
    """The headline's counts are exactly what -v then lists, section by section (it used to
    count "causes" of one set and list "likely causes" of another)."""
    report = unit_tests_report()
    head = render(report, "terminal", color=False).splitlines()[0]
    verbose = render(report, "terminal", color=False, verbose=True)
    labels = ("cause", "effect", "other difference", "expected tox difference")
    said = {label: int(n) for n, label in re.findall(rf"(\d+) ({'|'.join(labels)})s?\b", head)}
    listed = {
        label: int(n) for label, n in re.findall(rf"^({'|'.join(labels)})s? \((\d+)\):$", verbose, re.M)
    }
    assert said == listed
    assert said["cause"] == 1
    assert sum(listed.values()) == len(report.findings)


def test_a_passing_env_is_not_told_it_has_causes() -> None:
    """The env's tests passed: nothing is "the cause" of anything; the headline says what
    could break isolation instead (and "no difference explains a failure" when nothing could)."""
    report = dataclasses.replace(unit_tests_report(), outcome="passed")
    head = render(report, "terminal", color=False).splitlines()[0]
    assert head.startswith(
        "py312: broker audit — tests passed; 1 difference could break isolation (UNIT_TESTS"
    )
    assert "cause" not in head
    empty = dataclasses.replace(report, findings=())
    assert "tests passed; no difference explains a failure" in render(empty, "terminal", color=False)
    assert json.loads(render(report, "json"))["outcome"] == "passed"


def test_with_nothing_to_compare_with_a_finding_is_no_difference() -> None:
    """A CI job without a developer env or a reference: the findings are facts of the env alone
    (field test: Bogdanp/dramatiq's implicit default broker was called "1 difference")."""
    report = dataclasses.replace(unit_tests_report(), outcome="passed", baseline=None)
    head = render(report, "terminal", color=False).splitlines()[0]
    assert "tests passed; 1 finding of this env alone could break isolation (UNIT_TESTS" in head, head
    assert "difference" not in head, head
    empty = dataclasses.replace(report, findings=())
    assert "tests passed; no finding explains a failure" in render(empty, "terminal", color=False)
