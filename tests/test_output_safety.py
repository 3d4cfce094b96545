"""The output sanitiser (``_sanitize.py``): whatever text the audited world puts into a report,
no output line is a command to a CI runner, no raw control character reaches the terminal,
and no secret reaches any output. Checked with the runners' own parsing rules
(``tests/_runners.py``) and property-tested over every field and every format.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _runners import azure_command, github_command, gitlab_section, physical_lines
from _snapshot_factory import make_snapshot, read
from tox_broker_audit import Finding, Fix, Location, Report, RunInfo, diagnose, render, report_to_dict
from tox_broker_audit._sanitize import clean, guard_lines, neutralise
from tox_broker_audit.renderers.ci import annotated
from tox_broker_audit.renderers.ci.github import select
from tox_broker_audit.snapshot.io import dump_snapshot, load_snapshot

C = "CANARYq7z"  # in every secret below; it must appear in no output

SECRETS = [
    f"amqp://u:{C}@h1,u2:{C}@h2/vh",
    f"redis://:p@{C}@cache:6379/0",
    f"postgresql://app:a/{C}@db/app",
    f"DB_PASSWORD={C}",
    f"MYSQL_PWD={C}",
    f"AUTHORIZATION_HEADER='Bearer {C}'",
    f"ghp_{C}abcdefghijklmnopqrstu",
    f"https://hooks.slack.com/services/T0/B0/{C}",
    f"--api-secret {C}",
    f"--db-password={C}",
    f'os.environ.setdefault("X_TOKEN","{C}")',
    f"https://{C}tokentokentoken@github.com/o/x.git",
    f"-----BEGIN PRIVATE KEY-----\nMIIE{C}abc\ndef\n-----END PRIVATE KEY-----",
    f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIi{C}.SflKxwRJSMeKKF2QT4f",
]
RUNNER = [
    "\n::error::INJECTED\n",
    "::warning file=x,line=1::INJECTED",
    "\r::set-output name=x::y",
    " \u3000::notice::INJECTED",
    "\u00ad::error::soft hyphen",
    "##[error]INJECTED",
    "x ##vso[task.setvariable variable=X]INJECTED",
    "#\u200b#vso[task.complete result=Failed]zero width",
    "\t::add-mask::tab-indented",
    "\x1b]0;title\x07\x1b[31mred\x1b[0m",
    "\x9b31m\x9d8;;http://x\x9c",
    "section_start:1700000000:evil\r\x1b[0KEVIL",
    "\u2028::error::line separator",
    "\x85::error::next line",
    "\u202eevil\u202c",
    "\ud800\udfff",
]

hostile = st.lists(
    st.one_of(st.text(max_size=12), st.sampled_from(SECRETS), st.sampled_from(RUNNER)), max_size=4
).map(" ".join)
small = st.text(max_size=8)


@st.composite
def findings(draw: Any) -> Finding:
    return Finding(
        code=draw(st.sampled_from(["BA101", "BA301", draw(small)])),
        slug=draw(hostile),
        severity=draw(st.sampled_from(["error", "warning", "info"])),
        title=draw(hostile),
        subject=draw(hostile),
        detail=draw(hostile),
        fix=draw(hostile),
        location=draw(st.none() | st.builds(Location, hostile, st.none() | st.integers(1, 9))),
        evidence=draw(st.dictionaries(small, hostile | st.lists(hostile, max_size=2), max_size=2)),
        root_cause=draw(st.booleans()),
        explains=tuple(draw(st.lists(hostile, max_size=2))),
        id=draw(hostile),
        group=draw(st.sampled_from(["cause", "other", "expected"])),
        change=draw(st.none() | st.builds(Fix, st.just("pass_env"), hostile, hostile)),
        about=tuple(draw(st.lists(hostile, max_size=2))),
        effects_on=tuple(draw(st.lists(hostile, max_size=2))),
    )


@st.composite
def reports(draw: Any) -> Report:
    side = st.none() | st.builds(
        RunInfo,
        **{f.name: hostile for f in dataclasses.fields(RunInfo)},
    ).map(lambda info: dataclasses.replace(info, command=(info.command,)))
    return Report(
        env=draw(st.none() | hostile),
        baseline=draw(side),
        target=draw(side),
        findings=tuple(draw(st.lists(findings(), min_size=1, max_size=3))),
        outcome=draw(st.none() | st.sampled_from(["passed", "failed"]) | hostile),
    )


#: Every built-in format, with the options that change what it prints.
FORMATS = [
    ("terminal", {"color": False}),
    ("terminal", {"color": False, "verbose": True}),
    ("terminal", {"color": True, "verbose": True}),
    ("markdown", {}),
    ("json", {}),
    ("github", {}),
    ("azure", {}),
    ("gitlab", {}),
    ("sarif", {}),
]
_SGR = re.compile(r"\x1b\[[0-9;]*m")  # the terminal renderer's own colours
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _check_commands(fmt: str, text: str, report: Report) -> None:
    lines = [line for line in physical_lines(text) if line]
    github = [(line, github_command(line)) for line in lines]
    azure = [(line, azure_command(line)) for line in lines]
    if fmt == "github":
        ours = [line for line, name in github if name is not None]
        assert all(name in ("error", "warning", "notice") for _, name in github if name), github
        assert all(line.startswith("::") for line in ours)
        assert len(ours) == len(select(report)[0])  # nothing in the data made a line of its own
    else:
        assert [line for line, name in github if name] == [], fmt
    if fmt == "azure":
        expected = [f for f in annotated(report) if f.severity in ("error", "warning")]
        assert all(name == "task.logissue" and line.startswith("##vso[") for line, name in azure)
        assert len(lines) == len(expected)
    else:
        assert [line for line, name in azure if name] == [], fmt
    assert not any(gitlab_section(line) for line in lines), fmt


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(report=reports())
def test_no_output_commands_a_runner_or_leaks_a_secret(report: Report) -> None:
    for fmt, options in FORMATS:
        text = render(report, fmt, root="/work/repo", config_file="/work/repo/tox.ini", **options)
        assert C not in text, fmt
        _check_commands(fmt, text, report)
        plain = _SGR.sub("", text)
        assert not _CONTROL.search(plain), (fmt, plain)
        if options.get("color") is False:
            assert "\x1b" not in text
        if fmt in ("json", "gitlab", "sarif"):
            json.loads(text)


@settings(max_examples=40, deadline=None)
@given(report=reports())
def test_json_stays_json_with_the_same_structure(report: Report) -> None:
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
    assert data["summary"] == report.summary
    assert len(data["findings"]) == len(report.findings)
    for finding, shown in zip(report.findings, data["findings"]):
        assert set(shown) >= {"id", "code", "title", "detail", "fix", "location", "evidence", "explains"}
        assert len(shown["explains"]) == len(finding.explains)
        assert (shown["location"] is None) is (finding.location is None)
        assert {"about", "effects_on"} <= set(shown["evidence"])  # schema_version 1's copies
        others = set(finding.evidence) - {"about", "effects_on"}
        assert len(shown["evidence"]) <= len(others) + 2
        assert shown["evidence"]["about"] == shown["about"]


@settings(max_examples=200, deadline=None)
@given(text=st.text() | hostile)
def test_clean_is_one_safe_line_and_idempotent(text: str) -> None:
    shown = clean(text)
    assert clean(shown) == shown
    assert neutralise(shown) == shown
    assert C not in shown
    assert physical_lines(shown) == [shown]
    assert github_command(shown) is None
    assert azure_command(shown) is None
    assert not gitlab_section(shown)
    shown.encode("utf-8")  # no lone surrogate: every output can be written


@settings(max_examples=100, deadline=None)
@given(lines=st.lists(hostile.map(clean), max_size=4), indent=st.sampled_from(["", "  ", "\u3000"]))
def test_a_clean_field_at_the_start_of_a_line_is_no_command(lines: list[str], indent: str) -> None:
    """Renderers put fields after indentation, or two fields together: guard_lines catches
    a ``::`` that only appears once they are joined (``":" + ":error::x"``)."""
    text = guard_lines("\n".join(indent + ":" + line for line in lines))
    assert all(github_command(line) is None for line in physical_lines(text))


@pytest.mark.parametrize("data", RUNNER)
def test_each_runner_string_is_a_command_before_and_none_after(data: str) -> None:
    """The re-implemented parsers do see the raw strings as commands (else this tests nothing)."""
    lines = physical_lines(data)
    seen = [github_command(x) or azure_command(x) or gitlab_section(x) for x in lines]
    control = bool(_CONTROL.search(data)) or "\u2028" in data or "\u202e" in data or "\ud800" in data
    assert any(seen) or control
    shown = clean(data)
    assert [github_command(shown), azure_command(shown), gitlab_section(shown)] == [None, None, False]


def test_a_snapshot_file_is_clean_too(tmp_path: Path) -> None:
    """baseline.json/target.json are artefacts a CI log may print: no secret, no command."""
    snapshot = make_snapshot(env={"HOME": "/home/u"})
    evil = " ".join([*SECRETS, *RUNNER])
    meta = dataclasses.replace(
        snapshot.meta, source=dataclasses.replace(snapshot.meta.source, description=f"tox -e py -- {evil}")
    )
    snapshot = dataclasses.replace(snapshot, meta=meta)
    path = tmp_path / "target.json"
    dump_snapshot(snapshot, path)
    text = path.read_text(encoding="utf-8")
    assert C not in text
    assert all(github_command(x) is azure_command(x) is None for x in physical_lines(text))
    assert load_snapshot(path).meta.source.description.startswith("tox -e py -- amqp://u:***@h2/vh")


def test_a_snapshot_serialised_ahead_is_the_same_file_and_follows_what_is_hidden(tmp_path: Path) -> None:
    """A background baseline is serialised while the env's commands run (``prepare``); the file
    written later is byte for byte the one written directly, and a value learnt in between is
    hidden in it all the same."""
    from tox_broker_audit.probe import _tba_redact
    from tox_broker_audit.snapshot.io import prepare, snapshot_json

    secret = f"hunter{C}"
    snapshot = make_snapshot(env={"HOME": "/home/u", "NOTE": f"login with {secret}"})
    prepare(snapshot)
    ahead = tmp_path / "ahead.json"
    dump_snapshot(snapshot, ahead)
    assert ahead.read_text(encoding="utf-8") == snapshot_json(snapshot)
    _tba_redact.learn({"MY_APP_PASSPHRASE": secret})
    try:
        later = tmp_path / "later.json"
        dump_snapshot(snapshot, later)
        assert secret in ahead.read_text(encoding="utf-8")  # not yet known when it was prepared
        assert secret not in later.read_text(encoding="utf-8")
    finally:
        _tba_redact.forget()


@st.composite
def snapshot_pairs(draw: Any) -> tuple[Any, Any]:
    """Two snapshots whose environments differ in hostile names and values, each variable
    read by project code (so the rules quote them: titles, details, evidence, fixes)."""
    names = draw(st.lists(st.sampled_from(["PR_BODY", "MYSQL_PWD", "DB_CREDS", "NOTE"]) | small, max_size=3))
    names = [n for n in dict.fromkeys(names) if n]
    local = {name: draw(hostile) for name in names}
    under_tox = {name: draw(hostile) for name in names[: len(names) // 2]}
    reads = [read(name, f"/work/repo/{draw(hostile)}.py", module="app") for name in names]
    description = draw(hostile)
    baseline = make_snapshot(env=local, reads=reads, prefix="/venv")
    target = make_snapshot(env=under_tox, reads=reads, prefix="/work/repo/.tox/py", source_kind="tox-env")
    meta = dataclasses.replace(
        target.meta, source=dataclasses.replace(target.meta.source, description=description)
    )
    return baseline, dataclasses.replace(target, meta=meta)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=snapshot_pairs())
def test_snapshot_data_through_the_diagnosis_reaches_no_output_unclean(pair: tuple[Any, Any]) -> None:
    baseline, target = pair
    report = diagnose(baseline, target, env_name="py")
    for fmt, options in FORMATS:
        text = render(report, fmt, root="/work/repo", **options)
        assert C not in text, fmt
        _check_commands(fmt, text, report)
        assert not _CONTROL.search(_SGR.sub("", text)), fmt


@pytest.mark.parametrize("fmt", ["github", "gitlab", "sarif", "azure"])
def test_a_path_is_redacted_before_it_is_normalised(fmt: str) -> None:
    """``amqp://u:pw@h`` normalised first becomes ``amqp:/u:pw@h``, no longer a URL: the CI
    formats used to show it in ``file=``, the GitLab path and the SARIF uri."""
    finding = Finding(
        code="BA301",
        slug="pth-differs",
        severity="error",
        title="t",
        subject="s",
        detail="d",
        fix="f",
        location=Location(f"/work/repo/amqp://u:{C}@h//x.pth", 1),
        root_cause=True,
        id="a",
    )
    report = Report(env="py", baseline=None, target=None, findings=(finding,))
    text = render(report, fmt, root="/work/repo", config_file="/work/repo/tox.ini")
    assert C not in text
    assert "***" in text or "%2A%2A%2A" in text  # the password was there, and hidden
