"""CI renderers (github, gitlab, sarif, azure): exact escaping, no injected command, no secret.

Each annotation line is decoded here the way the platform's own parser does it (the runner's
and the agent's unescaping), so a test can say both "no extra command appeared" and "the text
arrives as it was meant".
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest

from _schemas import validate_sarif
from _snapshot_factory import PROJECT
from test_brokers_rules import _unit_tests_pair
from tox_broker_audit._sanitize import clean
from tox_broker_audit.diagnosis.engine import diagnose
from tox_broker_audit.diagnosis.model import Finding, Location, Report, ToxFacts
from tox_broker_audit.probe._tba_redact import redact_text
from tox_broker_audit.renderers import available_formats, render
from tox_broker_audit.renderers import ci as _ci
from tox_broker_audit.renderers.ci import azure as _azure
from tox_broker_audit.renderers.ci import github as _github

CANARY = "CANARY"
TOKEN = "ghp_" + "Zz9" * 12
ROOT = "/work/repo"
EVIL = (
    f"50% done, a:b; c]\n::error::INJECTED\r\n##vso[task.setvariable variable=X]INJECTED\n"
    f"amqp://u:{CANARY}@h/ {TOKEN}"
)


# --------------------------------------------------------------------------- the platforms' parsers


def _github_unescape_data(text: str) -> str:
    # actions/runner ActionCommand: %0D, %0A, then %25 (the reverse of @actions/core's escapeData)
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def _github_unescape_property(text: str) -> str:
    return (
        text.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
    )


def parse_github(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command as the runner reads it: ``::name k=v,k=v::message`` at line start."""
    assert line.lstrip().startswith("::"), line
    body = line.lstrip()[2:]
    end = body.index("::")
    info, data = body[:end], body[end + 2 :]
    name, _, props = info.partition(" ")
    properties = {}
    for pair in filter(None, props.split(",")):
        key, _, value = pair.partition("=")
        properties[key] = _github_unescape_property(value)
    return name, properties, _github_unescape_data(data)


def _azure_unescape(text: str) -> str:
    # Agent.Sdk CommandStringConvertor.Unescape: the four mappings, then %AZP25 -> %
    for token, replacement in ((";", "%3B"), ("\r", "%0D"), ("\n", "%0A"), ("]", "%5D")):
        text = text.replace(replacement, token)
    return text.replace("%AZP25", "%")


def parse_azure(line: str) -> tuple[str, dict[str, str], str]:
    """A logging command as the agent reads it: the first ``##vso[`` anywhere, the first ``]``."""
    start = line.index("##vso[")
    end = line.index("]", start)
    info = line[start + len("##vso[") : end]
    name, _, props = info.partition(" ")
    properties = {}
    for pair in filter(None, props.split(";")):
        key, _, value = pair.partition("=")
        properties[key] = _azure_unescape(value)
    return name, properties, _azure_unescape(line[end + 1 :])


def physical_lines(text: str) -> list[str]:
    """Lines as a runner reads stdout: split on CR and LF only (not str.splitlines' extras)."""
    return [line for line in re.split(r"\r\n|\r|\n", text) if line]


# --------------------------------------------------------------------------- reports


def _finding(code: str, severity: str = "error", **changes: Any) -> Finding:
    base = Finding(
        code=code,
        slug="env-missing",
        severity=severity,  # type: ignore[arg-type]
        title=f"title of {code}",
        subject=f"SUBJECT_{code}",
        detail="detail",
        fix="fix it",
        location=Location(f"{ROOT}/tox.ini", 4),
        id=f"{code}-id",
        group="cause",
    )
    return dataclasses.replace(base, **changes)


def evil_report() -> Report:
    """Every field a format writes carries newlines, command starts, separators and secrets."""
    root = _finding(
        "BA101",
        title=f"title {EVIL}",
        subject=f"SUBJ {EVIL}",
        detail=f"detail {EVIL}",
        fix=f"fix {EVIL}",
        location=Location(f"{ROOT}/we,ird:dir;x]/tox%.ini\n::error::INJECTED", 4),
        root_cause=True,
        explains=("BA601-id",),
    )
    effect = _finding(
        "BA601",
        slug="actor-real-broker",
        severity="warning",
        title=f"effect {EVIL}",
        location=Location(f"{ROOT}/app/tasks.py", 5),
    )
    return Report(env="py3,12:x;y]\n::error::E", baseline=None, target=None, findings=(root, effect))


def chain_report() -> Report:
    """The real diagnosis engine on the README's example: UNIT_TESTS -> BA602 -> BA601 -> BA603."""
    baseline, target = _unit_tests_pair()
    tox = ToxFacts(ini_path=f"{PROJECT}/tox.ini", ini_section="testenv", section_line=4)
    return diagnose(baseline, target, env_name="py312", tox=tox)


def _render(report: Report, fmt: str, root: str | None = ROOT) -> str:
    return render(report, fmt, color=False, root=root, config_file=f"{root or ROOT}/tox.ini")


def _no_secret(text: str) -> None:
    assert CANARY not in text
    assert "ghp_" not in text


# --------------------------------------------------------------------------- registration


def test_ci_formats_are_registered() -> None:
    assert {"github", "gitlab", "sarif", "azure"} <= set(available_formats())


def test_empty_report_renders_nothing_to_annotate() -> None:
    empty = Report(env="py", baseline=None, target=None, findings=())
    assert _render(empty, "github") == ""
    assert _render(empty, "azure") == ""
    assert json.loads(_render(empty, "gitlab")) == []
    empty_log = json.loads(_render(empty, "sarif"))
    validate_sarif(empty_log)
    assert empty_log["runs"][0]["results"] == []


# --------------------------------------------------------------------------- github


def test_github_escapes_exactly_as_actions_core() -> None:
    assert _github.escape_data("50%\r\n::error::x, a:b") == "50%25%0D%0A::error::x, a:b"
    assert _github.escape_property("a:b,c%\r\nd") == "a%3Ab%2Cc%25%0D%0Ad"
    assert _github.escape_data("%0A") == "%250A"  # an escape in the data is not decoded as one
    assert _github.command("error", {"file": "a,b:c", "line": "", "title": "t"}, "m\nn") == (
        "::error file=a%2Cb%3Ac,title=t::m%0An"
    )


def test_github_adversarial_data_injects_no_command_and_leaks_no_secret() -> None:
    report = evil_report()
    text = _render(report, "github")
    _no_secret(text)
    lines = physical_lines(text)
    assert len(lines) == 2  # one per finding: nothing in the data started a line of its own
    parsed = [parse_github(line) for line in lines]
    assert [p[0] for p in parsed] == ["error", "warning"]
    _, props, message = parsed[0]
    assert lines[0].startswith(
        "::error file=we%2Cird%3Adir;x]/tox%25.ini␊%3A%3Aerror%3A%3AINJECTED,line=4,"
        "title=broker audit (py3%2C12%3Ax;y]␊%3A%3Aerror%3A%3AE)%3A BA101 env-missing::title 50%25 done"
    )
    # A newline in the data is shown as one (the output sanitiser), never written as one.
    assert props["file"] == "we,ird:dir;x]/tox%.ini␊::error::INJECTED"
    assert props["title"] == "broker audit (py3,12:x;y]␊::error::E): BA101 env-missing"
    assert message == _ci.message(report.findings[0], report, with_location=False)
    assert message.startswith(f"title {clean(EVIL.split('amqp', maxsplit=1)[0])}")
    assert "amqp://u:***@h/ ***" in message


def test_github_file_is_relative_to_the_workspace_and_escaped() -> None:
    finding = _finding("BA101", location=Location(f"{ROOT}/sub dir/a,b:c.ini", 7))
    report = Report(env="py", baseline=None, target=None, findings=(finding,))
    line = _render(report, "github").rstrip("\n")
    assert line.startswith("::error file=sub dir/a%2Cb%3Ac.ini,line=7,title=broker audit (py)%3A BA101 ")
    _, props, message = parse_github(line)
    assert props["file"] == "sub dir/a,b:c.ini"
    assert "at: " not in message  # the annotation is on the file itself


def test_github_property_list_survives_query_like_paths() -> None:
    """Redaction runs on each field before escaping, never over the finished command line."""
    finding = _finding("BA101", location=Location(f"{ROOT}/d/sig=abc/token=x", 3))
    report = Report(env="auth=py", baseline=None, target=None, findings=(finding,))
    _, props, _ = parse_github(_render(report, "github").rstrip("\n"))
    assert props == {  # each field redacted on its own; the list itself intact
        "file": redact_text("d/sig=abc/token=x"),
        "line": "3",
        "title": redact_text("broker audit (auth=py): BA101 env-missing"),
    }
    assert "abc" not in props["file"]
    _, props, message = parse_azure(_render(report, "azure").rstrip("\n"))
    assert props["linenumber"] == "3"
    assert message.startswith("[auth=***] title of BA101")


def test_github_outside_the_workspace_names_the_path_in_the_message() -> None:
    finding = _finding("BA301", location=Location("/home/u/.venv/lib/site-packages/x.pth", 1))
    report = Report(env="py", baseline=None, target=None, findings=(finding,))
    _, props, message = parse_github(_render(report, "github").rstrip("\n"))
    assert "file" not in props
    assert message.endswith("at: /home/u/.venv/lib/site-packages/x.pth:1")


def test_github_levels_selection_and_per_step_limit() -> None:
    errors = [_finding(f"BA{600 + i}", id=f"e{i}") for i in range(15)]
    late_root = _finding("BA999", severity="info", id="root", root_cause=True)
    noise = [
        _finding("BA102", severity="info", id="n1"),
        _finding("BA104", severity="warning", id="n2", group="expected"),
    ]
    report = Report(env="py", baseline=None, target=None, findings=(*errors, *noise, late_root))
    lines = physical_lines(_render(report, "github"))
    assert lines[0].startswith("::notice ")  # the root cause first, whatever its rank
    assert sum(line.startswith("::error ") for line in lines) == _github.MAX_PER_LEVEL
    assert lines[-1] == (
        "broker-audit: 5 more finding(s) not annotated (GitHub shows 10 per level and step): "
        "see the full report"
    )
    assert not any("BA102" in line or "BA104" in line for line in lines)  # info and tox noise


def test_github_on_the_unit_tests_chain() -> None:
    report = chain_report()
    lines = physical_lines(_render(report, "github", root=PROJECT))
    assert lines[0].startswith(
        "::error file=tox.ini,line=4,title=broker audit (py312)%3A BA101 env-missing::UNIT_TESTS is set"
    )
    assert "%0Afix: tox.ini:4 [testenv]  add  pass_env = UNIT_TESTS" in lines[0]
    ba601 = next(line for line in lines if "BA601" in line.split("::")[1])
    assert ba601.startswith("::error file=app/tasks.py,line=5,")
    assert "%0Acaused by: global broker differs" in ba601
    assert [parse_github(line)[0] for line in lines] == ["error"] * len(lines)


# --------------------------------------------------------------------------- azure


def test_azure_escapes_exactly_as_the_task_library() -> None:
    assert _azure.escape_data("50%\r\n;]") == "50%AZP25%0D%0A;]"
    assert _azure.escape_property("50%\r\n;]") == "50%AZP25%0D%0A%3B%5D"
    assert _azure.command("task.logissue", {"type": "error", "sourcepath": "a;b]c", "code": ""}, "m") == (
        "##vso[task.logissue type=error;sourcepath=a%3Bb%5Dc;]m"
    )


def test_azure_adversarial_data_injects_no_command_and_leaks_no_secret() -> None:
    report = evil_report()
    text = _render(report, "azure")
    _no_secret(text)
    lines = physical_lines(text)
    assert len(lines) == 2
    for line in lines:
        assert line.startswith("##vso[task.logissue type=")  # the agent reads the first ##vso[: ours
    name, props, message = parse_azure(lines[0])
    assert name == "task.logissue"
    assert set(props) == {"type", "sourcepath", "linenumber", "code"}
    assert props["sourcepath"] == clean(report.findings[0].location.path)  # type: ignore[union-attr]
    assert (props["type"], props["linenumber"], props["code"]) == ("error", "4", "BA101")
    expected = _ci.message(report.findings[0], report, with_location=False)
    assert message == "[py3,12:x;y]␊::error::E] " + expected
    assert parse_azure(lines[1])[1]["type"] == "warning"


def test_azure_logs_only_errors_and_warnings_with_absolute_paths() -> None:
    info_root = _finding("BA999", severity="info", root_cause=True, id="r")
    relative = _finding("BA102", severity="warning", location=Location("app/x.py", 3), id="w")
    report = Report(env="py", baseline=None, target=None, findings=(info_root, relative))
    lines = physical_lines(_render(report, "azure"))
    assert len(lines) == 1  # task.logissue has no "info" type
    assert parse_azure(lines[0])[1]["sourcepath"] == f"{ROOT}/app/x.py"


def test_azure_on_the_unit_tests_chain() -> None:
    lines = physical_lines(_render(chain_report(), "azure", root=PROJECT))
    assert lines[0].startswith(
        "##vso[task.logissue type=error;sourcepath=/proj/tox.ini;linenumber=4;code=BA101;][py312] UNIT_TESTS"
    )
    codes = [parse_azure(line)[1]["code"] for line in lines]
    assert codes[0] == "BA101"
    assert {"BA601", "BA602", "BA603"} <= set(codes)


# --------------------------------------------------------------------------- gitlab

GITLAB_SEVERITIES = {"info", "minor", "major", "critical", "blocker"}


def _check_gitlab(issues: list[dict[str, Any]]) -> None:
    """The Code Quality format: https://docs.gitlab.com/ci/testing/code_quality/#code-quality-report-format"""
    assert isinstance(issues, list)
    for issue in issues:
        assert set(issue) == {"description", "check_name", "fingerprint", "severity", "location"}
        assert issue["severity"] in GITLAB_SEVERITIES
        assert re.fullmatch(r"[0-9a-f]{64}", issue["fingerprint"])
        assert not issue["location"]["path"].startswith("/")
        assert isinstance(issue["location"]["lines"]["begin"], int)
        assert issue["location"]["lines"]["begin"] >= 1
    fingerprints = [issue["fingerprint"] for issue in issues]
    assert len(set(fingerprints)) == len(fingerprints)


def test_gitlab_adversarial_report_is_valid_json_without_secrets() -> None:
    report = evil_report()
    text = _render(report, "gitlab")
    _no_secret(text)
    issues = json.loads(text)
    _check_gitlab(issues)
    assert issues[0]["severity"] == "blocker"  # an error that is a root cause
    assert issues[1]["severity"] == "major"
    assert issues[0]["location"] == {
        "path": "we,ird:dir;x]/tox%.ini␊::error::INJECTED",
        "lines": {"begin": 4},
    }
    assert issues[0]["description"].startswith("title 50% done, a:b; c]␊::error::INJECTED")
    assert "amqp://u:***@h/ ***" in issues[0]["description"]


def test_gitlab_and_sarif_anchor_a_finding_without_a_place_at_the_tox_config() -> None:
    outside = _finding("BA301", location=Location("/home/u/.venv/x.pth", 2))
    nowhere = _finding("BA602", location=None, id="n")
    report = Report(env="py", baseline=None, target=None, findings=(outside, nowhere))
    issues = json.loads(_render(report, "gitlab"))
    assert [issue["location"] for issue in issues] == [{"path": "tox.ini", "lines": {"begin": 1}}] * 2
    assert issues[0]["description"].endswith("at: /home/u/.venv/x.pth:2")  # the real place, named
    sarif_log = json.loads(_render(report, "sarif"))
    validate_sarif(sarif_log)
    results = sarif_log["runs"][0]["results"]
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results]
    assert uris == ["tox.ini", "tox.ini"]
    assert results[0]["message"]["text"].endswith("at: /home/u/.venv/x.pth:2")


def test_gitlab_fingerprint_is_stable_and_ignores_wording() -> None:
    first = _finding("BA101", title="one", detail="one")
    reworded = dataclasses.replace(first, title="two", detail="two", fix="two", score=9.0)
    other_env = Report(env="py313", baseline=None, target=None, findings=(first,))

    def fp(report: Report) -> str:
        return str(json.loads(_render(report, "gitlab"))[0]["fingerprint"])

    base = Report(env="py312", baseline=None, target=None, findings=(first,))
    assert fp(base) == fp(base)
    assert fp(base) == fp(dataclasses.replace(base, findings=(reworded,)))
    assert fp(base) != fp(other_env)
    twins = Report(
        env="py312", baseline=None, target=None, findings=(first, dataclasses.replace(first, id="x"))
    )
    _check_gitlab(json.loads(_render(twins, "gitlab")))  # still unique


def test_gitlab_on_the_unit_tests_chain() -> None:
    issues = json.loads(_render(chain_report(), "gitlab", root=PROJECT))
    _check_gitlab(issues)
    assert issues[0]["check_name"] == "BA101 env-missing"
    assert issues[0]["severity"] == "blocker"
    assert issues[0]["location"] == {"path": "tox.ini", "lines": {"begin": 4}}
    ba601 = next(issue for issue in issues if issue["check_name"].startswith("BA601"))
    assert ba601["location"] == {"path": "app/tasks.py", "lines": {"begin": 5}}
    assert ba601["severity"] == "critical"


# --------------------------------------------------------------------------- sarif


def _check_sarif(log: dict[str, Any]) -> None:
    """Required structure of SARIF 2.1.0 (sarifLog, run, tool, toolComponent, result, location),
    and the official schema."""
    validate_sarif(log)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-schema-2.1.0.json")
    assert isinstance(log["runs"], list)
    assert len(log["runs"]) == 1
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "tox-broker-audit"
    assert driver["informationUri"].startswith("https://")
    assert isinstance(driver["version"], str)
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert len(set(rule_ids)) == len(rule_ids)
    for rule in driver["rules"]:
        assert re.fullmatch(r"BA\d{3}", rule["id"])
        assert rule["name"]
        assert rule["shortDescription"]["text"]
    for result in run["results"]:
        assert result["ruleId"] in rule_ids
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in {"none", "note", "warning", "error"}
        assert isinstance(result["message"]["text"], str)
        assert result["message"]["text"]
        assert len(result["locations"]) == 1  # GitHub code scanning needs one
        for location in result["locations"] + result.get("relatedLocations", []):
            physical = location["physicalLocation"]
            uri = physical["artifactLocation"]["uri"]
            assert not re.search(r"[\s\\]", uri)
            assert not uri.startswith("/")
            if "region" in physical:
                assert isinstance(physical["region"]["startLine"], int)
                assert physical["region"]["startLine"] >= 1
        for related in result.get("relatedLocations", []):
            assert isinstance(related["id"], int)
            assert related["message"]["text"]
        assert all(isinstance(v, str) for v in result["partialFingerprints"].values())
    assert {r["ruleId"] for r in run["results"]} == set(rule_ids)  # one rule per code used


def test_sarif_adversarial_report_is_valid_without_secrets() -> None:
    report = evil_report()
    text = _render(report, "sarif")
    _no_secret(text)
    log = json.loads(text)
    _check_sarif(log)
    first = log["runs"][0]["results"][0]
    assert first["properties"]["root_cause"] is True
    assert first["properties"]["explains"] == ["BA601-id"]
    assert first["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "we%2Cird%3Adir%3Bx%5D/tox%25.ini%E2%90%8A%3A%3Aerror%3A%3AINJECTED",
        "uriBaseId": "%SRCROOT%",
    }
    second = log["runs"][0]["results"][1]
    assert second["level"] == "warning"
    assert second["relatedLocations"][0]["message"]["text"].startswith("caused by: title 50% done")


def test_sarif_uris_are_percent_encoded() -> None:
    finding = _finding("BA101", location=Location(f"{ROOT}/sub dir/ä#1.py", 2))
    outside = _finding("BA102", location=Location("/elsewhere/x y.pth", None), id="o")
    report = Report(env="py", baseline=None, target=None, findings=(finding,))
    log = json.loads(_render(report, "sarif"))
    validate_sarif(log)
    physical = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert physical == {
        "artifactLocation": {"uri": "sub%20dir/%C3%A4%231.py", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 2},
    }
    assert log["runs"][0]["originalUriBaseIds"] == {"%SRCROOT%": {"uri": "file:///work/repo/"}}
    no_root = json.loads(render(dataclasses.replace(report, findings=(outside,)), "sarif"))
    validate_sarif(no_root)
    artifact = no_root["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "file:///elsewhere/x%20y.pth"}


def test_sarif_on_the_unit_tests_chain() -> None:
    report = chain_report()
    log = json.loads(_render(report, "sarif", root=PROJECT))
    _check_sarif(log)
    run = log["runs"][0]
    assert run["automationDetails"] == {"id": "tox-broker-audit/py312/"}
    results = run["results"]
    assert results[0]["ruleId"] == "BA101"
    assert results[0]["level"] == "error"
    assert results[0]["properties"]["root_cause"] is True
    ba601 = next(r for r in results if r["ruleId"] == "BA601")
    assert ba601["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "app/tasks.py"
    caused = ba601["relatedLocations"][0]
    assert caused["physicalLocation"] == {
        "artifactLocation": {"uri": "app/broker.py", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 8},
    }
    assert caused["message"]["text"].endswith("[BA602]")
    names = {rule["id"]: rule["name"] for rule in run["tool"]["driver"]["rules"]}
    assert names["BA601"] == "actor-real-broker"


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("/r/a/b.py", "/r", "a/b.py"),
        ("/r/a/../b.py", "/r/", "b.py"),
        ("/other/b.py", "/r", None),
        ("/r", "/r", None),
        ("/rx/b.py", "/r", None),
        ("a/b.py", "/r", "a/b.py"),
        ("../b.py", "/r", None),
        ("/abs/b.py", None, "/abs/b.py"),
        ("C:\\w\\repo\\a\\b.py", "C:\\w\\repo", "a/b.py"),
        ("D:\\x\\b.py", "C:\\w\\repo", None),
    ],
)
def test_relative_paths(path: str, root: str | None, expected: str | None) -> None:
    assert _ci.relative(path, root) == expected
