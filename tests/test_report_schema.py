"""report.json's contract, three ways that must agree: the JSON Schema the package ships
(``tox_broker_audit/report.schema.json``), the field tables of docs/architecture.md
(Contracts, report.json fields) and what ``report_to_dict`` writes for real diagnoses."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from _report_check import find_reports, report_problems
from _schemas import report_errors, report_schema, validate_report
from _snapshot_factory import make_snapshot
from test_brokers_rules import _unit_tests_pair
from test_render import unit_tests_report
from test_verify import _verified
from tox_broker_audit import Edit, Finding, Fix, Report, RunInfo, diagnose, hookimpl, make_plugin_manager
from tox_broker_audit.diagnosis.engine import probe_failure_finding
from tox_broker_audit.renderers.json import report_to_dict

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def _reports() -> dict[str, Report]:
    baseline, target = _unit_tests_pair()
    verified = _verified(baseline, target, lambda keys: ("env", "UNIT_TESTS") in keys, {"UNIT_TESTS": "1"})
    single = diagnose(
        None,
        make_snapshot(
            prefix="/proj/.tox/py", pytest={"collection_errors": [{"nodeid": "t.py", "message": "x"}]}
        ),
        env_name="py",
    )
    probe = diagnose(None, target, env_name="py", extra_findings=[probe_failure_finding("baseline", "boom")])
    return {"unit-tests": unit_tests_report(), "verified": verified, "single": single, "probe": probe}


REPORTS = _reports()


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_real_diagnoses_follow_the_schema(name: str) -> None:
    data = report_to_dict(REPORTS[name])
    validate_report(data)
    assert data["findings"], "a report without findings checks too little"


def test_the_schema_is_a_valid_2020_12_schema_and_closed_where_the_contract_is() -> None:
    schema = report_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    defs = schema["$defs"]
    for part in (schema, defs["run_info"], defs["not_captured"], defs["finding"], defs["fix"]):
        assert part["additionalProperties"] is False
        assert set(part["required"]) == set(part["properties"])
    assert "additionalProperties" not in defs["finding"]["properties"]["evidence"]  # open


def test_the_schema_rejects_what_the_contract_forbids() -> None:
    good = report_to_dict(REPORTS["verified"])
    assert not report_errors(good)
    first = good["findings"][0]
    assert first["verification"]["status"] == "confirmed"
    broken = {
        "unknown severity": ("severity", "fatal"),
        "unknown group": ("group", "noise"),
        "extra key": ("surprise", 1),
        "explains not a list": ("explains", "BA101"),
        "bad verification": ("verification", {**first["verification"], "status": "maybe"}),
        "bad change": ("change", {"action": "reinstall", "subject": "x", "value": ""}),
    }
    for why, (key, value) in broken.items():
        report = copy.deepcopy(good)
        report["findings"][0][key] = value
        assert report_errors(report), why
    for key in ("id", "change", "about"):
        report = copy.deepcopy(good)
        del report["findings"][0][key]
        assert report_errors(report), f"missing {key}"
    report = copy.deepcopy(good)
    report["baseline"] = {"kind": "none"}
    assert report_errors(report), "a side not captured says so in words too"
    report["baseline"] = {"kind": "none", "description": "no snapshot"}
    assert not report_errors(report)


def test_change_is_written_as_the_structured_fix() -> None:
    finding = next(f for f in REPORTS["unit-tests"].findings if f.change is not None)
    shown = next(d for d in report_to_dict(REPORTS["unit-tests"])["findings"] if d["id"] == finding.id)
    assert shown["change"] == {
        "action": finding.change.action,
        "subject": finding.change.subject,
        "value": finding.change.value,
    }
    assert shown["change"]["action"] == "pass_env"
    assert not any(d["change"] for d in report_to_dict(REPORTS["probe"])["findings"] if d["code"] == "BA901")


def test_links_are_fields_and_still_in_evidence() -> None:
    data = report_to_dict(REPORTS["unit-tests"])
    top, finding = data["findings"][0], REPORTS["unit-tests"].findings[0]
    assert top["about"] == list(finding.about) == ["env:UNIT_TESTS"]
    assert top["effects_on"] == list(finding.effects_on)
    assert top["effects_on"]
    assert (top["evidence"]["about"], top["evidence"]["effects_on"]) == (top["about"], top["effects_on"])
    assert "about" not in finding.evidence  # the typed field is the one place in Python


def test_a_side_not_captured_keeps_its_json() -> None:
    report = REPORTS["single"]
    assert report.baseline is None
    assert isinstance(report.target, RunInfo)
    data = report_to_dict(report)
    assert data["baseline"] == {"kind": "none", "description": "no snapshot"}
    assert data["target"]["python"] == report.target.python
    assert data["target"]["command"] == list(report.target.command)


def test_third_party_evidence_links_become_fields_and_link() -> None:
    """The first extension API put the tokens in evidence: they still link (docs/extending.md)."""

    def cause(ctx: Any) -> list[Finding]:
        return [
            Finding(code="XEX001", slug="x", severity="warning", title="the cause", subject="X", detail="",
                    fix="", group="cause", score=50.0,
                    evidence={"about": ["env:X"], "effects_on": ["module:ext.effect"], "note": 1}),
            Finding(code="XEX002", slug="y", severity="error", title="its effect", subject="Y", detail="",
                    fix="", group="cause", effects_on=(), about=("module:ext.effect",)),
        ]  # fmt: skip

    class Ext:
        @hookimpl
        def broker_audit_rules(self) -> list[Any]:
            return [cause]

    pm = make_plugin_manager()
    pm.register(Ext())
    baseline, target = _unit_tests_pair()
    report = diagnose(baseline, target, env_name="py", plugin_manager=pm)
    found = {f.code: f for f in report.findings}
    assert found["XEX001"].about == ("env:X",)
    assert found["XEX001"].effects_on == ("module:ext.effect",)
    assert dict(found["XEX001"].evidence) == {"note": 1}
    assert found["XEX001"].explains == (found["XEX002"].id,)
    validate_report(report_to_dict(report))


# --------------------------------------------------------------------------- docs == schema == output


def _doc_tables() -> dict[str, set[str]]:
    """The keys of each ``#### name`` table under "report.json fields" in docs/architecture.md."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split('<a id="report-json-fields"></a>', 1)[1].split("\n## ", 1)[0]
    tables: dict[str, set[str]] = {}
    for block in section.split("\n#### ")[1:]:
        name, _, body = block.partition("\n")
        tables[name.strip()] = set(re.findall(r"^\| `([a-z_]+)` \|", body, re.MULTILINE))
    return tables


_DEFS = {"report": None, "side": "run_info", "finding": "finding", "location": "location",
         "change": "fix", "verification": "verification", "edit": "edit"}  # fmt: skip


def test_the_documented_fields_are_exactly_the_schema_s() -> None:
    tables, schema = _doc_tables(), report_schema()
    assert set(tables) == set(_DEFS)
    for name, ref in _DEFS.items():
        part = schema if ref is None else schema["$defs"][ref]
        assert tables[name] == set(part["properties"]), name


def test_the_documented_fields_are_exactly_what_report_json_has() -> None:
    tables = _doc_tables()
    data = report_to_dict(REPORTS["verified"])
    assert set(data) == tables["report"]
    assert set(data["target"]) == tables["side"]
    every = [f for r in REPORTS.values() for f in report_to_dict(r)["findings"]]
    assert {key for f in every for key in f} == tables["finding"]
    nested = {"location": "location", "change": "change", "verification": "verification"}
    for key, table in nested.items():
        shown = [f[key] for f in every if f[key] is not None]
        assert shown, f"no finding with a {key}: the comparison would be empty"
        assert {k for value in shown for k in value} == tables[table], key


def test_every_model_field_is_documented() -> None:
    """A field added to the model is a report.json key (the renderer reads the fields): this
    fails until docs/architecture.md and the schema describe it."""
    tables = _doc_tables()
    models: dict[str, Any] = {"finding": Finding, "side": RunInfo, "change": Fix, "edit": Edit}
    for name, model in models.items():
        assert {f.name for f in dataclasses.fields(model)} == tables[name], name
    assert {f.name for f in dataclasses.fields(Report)} | {"schema", "schema_version", "summary"} == tables[
        "report"
    ]


# --------------------------------------------------------------------------- the suite-wide check


def test_the_suite_wide_check_finds_and_judges_reports(tmp_path: Path) -> None:
    good = tmp_path / "a" / ".tox" / "py" / "broker-audit" / "report.json"
    bad = tmp_path / "b" / "report.json"
    hidden = tmp_path / "venv" / "lib" / "site-packages" / "pkg" / "report.json"
    for path in (good, bad, hidden):
        path.parent.mkdir(parents=True)
    good.write_text(json.dumps(report_to_dict(REPORTS["single"])))
    bad.write_text(json.dumps({**report_to_dict(REPORTS["single"]), "schema_version": "1"}))
    hidden.write_text("not json")
    assert sorted(find_reports(tmp_path)) == sorted([good, bad])
    assert report_problems(good) == []
    assert any("schema_version" in p for p in report_problems(bad))
    bad.write_text(json.dumps(report_to_dict(REPORTS["single"])))  # or this test would fail itself


def test_a_test_that_writes_a_broken_report_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))
    pytester.makeconftest('pytest_plugins = ["_report_check"]')
    pytester.makepyfile(
        """
        import json

        import pytest

        @pytest.fixture
        def report(tmp_path):
            path = tmp_path / "report.json"
            yield path
            path.unlink()  # checked after the call, gone before the outer run's own check

        def test_writes(report):
            report.write_text(json.dumps({"schema": "tox-broker-audit/report"}))

        def test_writes_nothing():
            pass

        def test_writes_a_valid_one(tmp_path):
            (tmp_path / "report.json").write_text(VALID)
        """.replace("VALID", repr(json.dumps(report_to_dict(REPORTS["single"]))))
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*report.json breaks its schema*", "*'findings' is a required property*"])


def test_the_schema_module_accepts_only_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(report_schema())
