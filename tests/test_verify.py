"""The verify stage on hand-built snapshots with a fake runner: symptoms, interventions, search.

The runner stands in for the re-probe only: it gives the symptom a real re-probe would give
for the intervention (the baseline's when the intervention undoes the cause). The real
re-probes run in tests/scenarios (real tox) and in test_verify_probe.py (the real probe).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _snapshot_factory import PROJECT, make_snapshot, plugin, pth, read
from test_brokers_rules import RABBIT, STUB, _actor, _creation, _reach, _section, _set, _unit_tests_pair
from tox_broker_audit.diagnosis.codes import finding_id
from tox_broker_audit.diagnosis.engine import diagnose
from tox_broker_audit.renderers import render
from tox_broker_audit.renderers.json import report_to_dict
from tox_broker_audit.snapshot.capture import ProbeRequest
from tox_broker_audit.snapshot.model import FileOpen, Snapshot
from tox_broker_audit.verify.interventions import Intervention, derive, keys_of
from tox_broker_audit.verify.runner import request_for
from tox_broker_audit.verify.search import Budget, Candidate, Result, search
from tox_broker_audit.verify.stage import parse_budget, verify
from tox_broker_audit.verify.symptom import Symptom, describe, symptom_of

BROKER_PY = f"{PROJECT}/app/broker.py"


def _fake(fixes: Callable[[set[tuple[str, str]]], bool], good: Symptom, bad: Symptom, calls: list[int]):
    """A runner: the baseline's symptom when ``fixes(keys)``, else the target's."""

    def run(batch: Sequence[Intervention]) -> Sequence[Result]:
        calls.append(len(batch))
        return [(good if fixes(set(i.keys)) else bad, 0.1) for i in batch]

    return run


def _stub_section() -> dict[str, Any]:
    return _section(STUB, [_actor("send_welcome", STUB)], [_creation(STUB)], [_set(STUB)], [])


def test_symptom_is_the_same_for_the_same_run_in_another_venv() -> None:
    baseline, target = _unit_tests_pair()
    moved = make_snapshot(prefix="/elsewhere/.venv", brokers=_stub_section())
    mine = symptom_of(baseline, PROJECT)
    assert mine == symptom_of(moved, PROJECT)
    assert mine != symptom_of(target, PROJECT)
    assert mine.actors == (("send_welcome", "StubBroker", ""),)
    theirs = symptom_of(target, PROJECT)
    assert theirs.endpoints == (("127.0.0.1:5672", False),)
    assert describe(theirs) == "resize and send_welcome bind to RabbitmqBroker at 127.0.0.1:5672"


def test_collection_errors_compare_relative_to_the_project_and_the_prefix() -> None:
    def errors(prefix: str) -> Snapshot:
        message = f"E   ModuleNotFoundError: No module named 'x' ({prefix}/lib/x.py, {PROJECT}/tests/t.py)"
        return make_snapshot(
            prefix=prefix, pytest={"collection_errors": [{"nodeid": "tests/t.py", "message": message}]}
        )

    one, two = symptom_of(errors("/a/.venv"), PROJECT), symptom_of(errors("/b/.tox/py"), PROJECT)
    assert one == two
    assert one.errors[0][:2] == ("tests/t.py", "ModuleNotFoundError")
    assert "<prefix>/lib/x.py, tests/t.py" in one.errors[0][2]


def test_derive_sets_a_missing_variable_from_the_start_environment_and_hides_secrets() -> None:
    baseline = make_snapshot(
        env={"UNIT_TESTS": "1", "API_TOKEN": "s3cr3t-value"},
        reads=[read("UNIT_TESTS", BROKER_PY), read("API_TOKEN", BROKER_PY)],
    )
    target = make_snapshot(env={}, reads=[read("UNIT_TESTS", BROKER_PY, present=False)])
    live = {
        i.keys[0]: i for i in derive(baseline, target, {"UNIT_TESTS": "1", "API_TOKEN": "s3cr3t-value"}, "py")
    }
    assert live[("env", "UNIT_TESTS")].env_set == (("UNIT_TESTS", "1"),)
    assert live[("env", "UNIT_TESTS")].words == "with UNIT_TESTS=1 passed into py"
    token = live[("env", "API_TOKEN")]
    assert token.env_set == (("API_TOKEN", "s3cr3t-value"),)
    assert "s3cr3t" not in token.words + repr(token)
    from_file = {i.keys[0]: i for i in derive(baseline, target, None, "py")}
    assert from_file[("env", "UNIT_TESTS")].env_set == (("UNIT_TESTS", "1"),)
    assert from_file[("env", "API_TOKEN")].untestable
    assert not from_file[("env", "API_TOKEN")].env_set


def test_derive_startup_plugin_and_path_interventions() -> None:
    tracing = pth("orders_tracing.pth", prefix="/tox", exec_lines=["import orders_tracing"])
    baseline = make_snapshot(
        prefix="/venv",
        sitecustomize={"module": "sitecustomize", "path": "/venv/sc.py", "sha256": "a", "imported": []},
        sys_path=[{"path": "/shared/lib", "origin": "pythonpath", "detail": None, "exists": True}],
    )
    target = make_snapshot(
        prefix="/tox",
        pth_files=[tracing],
        plugins=[
            plugin("billing", "billing_fixtures.plugin", prefix="/tox", distribution="billing_fixtures")
        ],
    )
    found = {i.keys[0]: i for i in derive(baseline, target, {}, "py")}
    assert found[("pth", "orders_tracing.pth")].skip_pth == ("orders_tracing.pth",)
    assert found[("sitecustomize", "sitecustomize")].run_files == ("/venv/sc.py",)
    assert found[("path", "/shared/lib")].path_prepend == ("/shared/lib",)
    off = found[("plugin", "billing")]
    assert off.args == ("-p", "no:billing")
    assert ("plugin", "billing-fixtures") in off.keys
    assert keys_of("BA401", "billing_fixtures") == (("plugin", "billing-fixtures"),)


def test_nothing_runs_when_the_symptoms_are_equal() -> None:
    calls: list[int] = []
    same = Symptom(actors=(("a", "StubBroker", ""),))
    outcome = search(
        same, same, [], [Intervention(keys=(("env", "X"),), words="x")], _fake(bool, same, same, calls)
    )
    assert (outcome.runs, calls, dict(outcome.verdicts)) == (0, [], {})


def test_candidates_first_confirmed_and_refuted() -> None:
    good, bad = Symptom(actors=(("a", "StubBroker", ""),)), Symptom(actors=(("a", "RabbitmqBroker", "h:1"),))
    unit = Intervention(keys=(("env", "UNIT_TESTS"),), words="with UNIT_TESTS=1")
    other = Intervention(keys=(("env", "OTHER"),), words="with OTHER=1")
    calls: list[int] = []
    outcome = search(
        good,
        bad,
        [Candidate("BA101-other", (other,)), Candidate("BA101-unit-tests", (unit,))],
        [unit, other],
        _fake(lambda keys: ("env", "UNIT_TESTS") in keys, good, bad, calls),
    )
    assert outcome.verdicts["BA101-unit-tests"].status == "confirmed"
    assert outcome.verdicts["BA101-other"].status == "refuted"
    assert calls == [2]
    assert outcome.runs == 2
    assert outcome.minimal == ()


def test_ddmin_finds_the_two_differences_needed_together_within_the_budget() -> None:
    good, bad = Symptom(crash=None), Symptom(crash="KeyError: 'A'")
    pool = [Intervention(keys=(("env", name),), words=f"with {name}") for name in "ABCDEFGH"]
    calls: list[int] = []
    needs = {("env", "C"), ("env", "F")}
    outcome = search(
        good, bad, [], pool, _fake(lambda keys: needs <= keys, good, bad, calls), Budget(runs=30)
    )
    assert {i.keys[0] for i in outcome.minimal} == needs
    assert outcome.minimal_verdict is not None
    assert outcome.minimal_verdict.status == "confirmed"
    assert outcome.runs <= 30
    tight = search(good, bad, [], pool, _fake(lambda keys: needs <= keys, good, bad, []), Budget(runs=3))
    assert tight.runs <= 3
    assert tight.minimal_verdict is not None
    # Still a cure, only maybe not the smallest: confirmed, and said not to be minimal.
    assert (tight.minimal_verdict.status, tight.minimal_verdict.minimal) == ("confirmed", False)
    assert needs <= {i.keys[0] for i in tight.minimal}


def test_ddmin_is_inconclusive_when_even_everything_does_not_explain() -> None:
    good, bad = Symptom(crash=None), Symptom(crash="boom")
    pool = [Intervention(keys=(("env", "A"),), words="with A")]
    outcome = search(good, bad, [], pool, _fake(lambda keys: False, good, bad, []))
    assert outcome.minimal == ()
    assert outcome.minimal_verdict is not None
    assert outcome.minimal_verdict.status == "inconclusive"
    assert outcome.runs == 1


def _verified(baseline: Snapshot, target: Snapshot, fixes: Callable[[set[tuple[str, str]]], bool], values):
    report = diagnose(baseline, target, env_name="py")
    good, bad = symptom_of(baseline, PROJECT), symptom_of(target, PROJECT)
    request = ProbeRequest(python="python", cwd=Path(PROJECT))
    return verify(report, baseline, target, request, values, PROJECT, runner=_fake(fixes, good, bad, []))


def test_the_readme_case_is_confirmed_and_shown_in_every_format() -> None:
    baseline, target = _unit_tests_pair()
    report = _verified(baseline, target, lambda keys: ("env", "UNIT_TESTS") in keys, {"UNIT_TESTS": "1"})
    top = report.findings[0]
    assert (top.code, top.subject) == ("BA101", "UNIT_TESTS")
    assert top.verification is not None
    assert top.verification.status == "confirmed"
    data = report_to_dict(report)["findings"][0]["verification"]
    assert data == {
        "status": "confirmed",
        "intervention": "with UNIT_TESTS=1 passed into py",
        "runs": 1,
        "seconds": 0.1,
        "effect": "send_welcome binds to StubBroker",
        "oracle": "collection",
        "tests": None,
    }
    line = "confirmed: with UNIT_TESTS=1 passed into py, send_welcome binds to StubBroker (1 re-probe, 0.1 s)"
    assert line in render(report, "terminal")
    assert line in render(report, "markdown")
    assert line in render(report, "github")
    sarif = json.loads(render(report, "sarif"))
    assert sarif["runs"][0]["results"][0]["properties"]["verification"]["status"] == "confirmed"


def test_a_refuted_cause_leaves_the_causes_and_ddmin_names_the_real_one() -> None:
    baseline, target = _unit_tests_pair()
    baseline = make_snapshot(
        prefix="/home/u/.venv",
        env={"HOME": "/home/u", "UNIT_TESTS": "1", "APP_MODE": "test"},
        reads=[read("UNIT_TESTS", BROKER_PY), read("APP_MODE", BROKER_PY)],
        brokers=_stub_section(),
    )
    target = make_snapshot(
        prefix="/proj/.tox/py",
        env={"HOME": "/home/u", "APP_MODE": "prod"},
        reads=[read("UNIT_TESTS", BROKER_PY, present=False), read("APP_MODE", BROKER_PY)],
        brokers=_section(
            RABBIT,
            [_actor("send_welcome", RABBIT)],
            [_creation(RABBIT)],
            [_set(RABBIT)],
            [_reach("127.0.0.1:5672", "refused")],
        ),
    )
    both = {("env", "UNIT_TESTS"), ("env", "APP_MODE")}
    report = _verified(baseline, target, lambda keys: both <= keys, {"UNIT_TESTS": "1", "APP_MODE": "test"})
    top = report.findings[0]
    assert top.code == "BA701"
    assert top.verification is not None
    assert top.verification.status == "confirmed"
    assert "2 differences undone together" in top.title
    assert top.id == finding_id("BA701", top.subject, "combination")
    assert "UNIT_TESTS=1" in top.title
    assert "APP_MODE=test" in top.title
    refuted = [f for f in report.findings if f.verification and f.verification.status == "refuted"]
    assert refuted
    assert all(f.group == "other" and not f.root_cause for f in refuted)


def test_finding_ids_have_one_rule_for_the_engine_and_ba701() -> None:
    assert finding_id("BA101", "UNIT_TESTS") == "BA101-unit-tests"
    assert finding_id("BA101", "+++") == "BA101"
    assert finding_id("BA701", "+++", "combination") == "BA701-combination"
    long = "A" * 47 + "+B"
    slug = finding_id("BA701", long).removeprefix("BA701-")
    assert len(slug) == 47  # 48 characters cut, the trailing dash dropped
    assert not slug.endswith("-")
    assert finding_id("BA103", long).removeprefix("BA103-") == slug


def test_off_and_a_passing_env_under_auto_run_nothing() -> None:
    baseline, target = _unit_tests_pair()
    report = diagnose(baseline, target, env_name="py")
    request = ProbeRequest(python="python", cwd=Path(PROJECT))

    def never(batch: Sequence[Intervention]) -> Sequence[Result]:
        msg = "no re-probe expected"
        raise AssertionError(msg)

    assert verify(report, baseline, target, request, {}, PROJECT, mode="off", runner=never) is report
    assert verify(report, baseline, target, request, {}, PROJECT, outcome="passed", runner=never) is report
    assert verify(report, baseline, baseline, request, {}, PROJECT, mode="always", runner=never) is report


def test_request_for_applies_the_intervention_to_a_copy_of_the_request() -> None:
    base = ProbeRequest(
        python="python",
        cwd=Path("/proj/tests"),
        env={"A": "1", "B": "2"},
        invocation="python-m",
        pytest_args=("tests",),
        pytest_script="/x/pytest",
    )
    change = Intervention(
        keys=(("x", ""),),
        words="w",
        env_set=(("C", "3"),),
        env_unset=("B",),
        args=("-p", "no:x"),
        skip_pth=("a.pth",),
        cwd="/proj",
        invocation="pytest",
        path_prepend=("/lib",),
    )
    out = request_for(base, change, "/tmp/overlay")
    assert out.env == {"A": "1", "C": "3"}
    assert (str(out.cwd), out.invocation, out.pytest_script) == ("/proj", "pytest", None)
    assert out.pytest_args == ("-p", "no:x", "tests")
    assert out.experiment == {
        "skip_pth": ["a.pth"],
        "run_files": [],
        "path_prepend": ["/tmp/overlay", "/lib"],
    }
    assert base.env == {"A": "1", "B": "2"}


def test_budget_option_values() -> None:
    assert parse_budget("8/60") == Budget(runs=8, seconds=60.0)
    assert parse_budget("12/60") == Budget()
    assert parse_budget("3").runs == 3
    assert parse_budget("0").ddmin is False
    import pytest

    from tox_broker_audit._errors import AuditError

    with pytest.raises(AuditError, match="RUNS or RUNS/SECONDS"):
        parse_budget("lots")


def test_a_cause_no_intervention_undoes_is_untested_in_plain_words() -> None:
    good, bad = Symptom(crash=None), Symptom(crash="boom")
    outcome = search(good, bad, [Candidate("BA101-x", ())], [], _fake(lambda keys: False, good, bad, []))
    assert outcome.verdicts["BA101-x"].status == "untested"
    assert outcome.verdicts["BA101-x"].intervention == "no experiment for this difference"
    assert outcome.runs == 0


def test_xdist_workers_of_a_command() -> None:
    from tox_broker_audit._command import xdist_workers

    assert xdist_workers(["-n", "4", "tests"]) == 4
    assert xdist_workers(["-n2"]) == 2
    assert xdist_workers(["--numprocesses=auto"]) == 2
    assert xdist_workers(["-n", "0"]) == 0
    assert xdist_workers(["tests", "--", "-n", "3"]) == 0


def test_a_baseline_only_plugin_is_loaded_from_its_top_level_package() -> None:
    env_plugin = plugin("env", "pytest_env.plugin", prefix="/venv", distribution="pytest-env")
    env_plugin["file"] = "/venv/lib/python3.12/site-packages/pytest_env/plugin.py"
    baseline = make_snapshot(prefix="/venv", plugins=[env_plugin])
    target = make_snapshot(prefix="/tox")
    (load,) = [i for i in derive(baseline, target, {}, "py") if i.keys[0][0] == "plugin"]
    assert load.overlay == ("/venv/lib/python3.12/site-packages/pytest_env",)
    assert load.args == ("-p", "pytest_env.plugin")
    assert ("plugin", "pytest-env") in load.keys


def test_ba407_a_relative_open_that_change_dir_moves() -> None:
    opener = {
        "phase": "collection",
        "file": f"{PROJECT}/app/settings.py",
        "line": 4,
        "module": "app.settings",
    }
    found = {"path": "config/broker.json", "resolved": f"{PROJECT}/config/broker.json", "exists": True}
    baseline = make_snapshot()
    target = make_snapshot()
    baseline = dataclasses.replace(baseline, opens=(FileOpen(**found, **opener),))
    target = dataclasses.replace(
        target,
        meta=dataclasses.replace(target.meta, cwd=f"{PROJECT}/tests"),
        opens=(
            FileOpen(
                **{**found, "resolved": f"{PROJECT}/tests/config/broker.json", "exists": False}, **opener
            ),
        ),
    )
    report = diagnose(baseline, target, env_name="py")
    (ba407,) = [f for f in report.findings if f.code == "BA407"]
    assert ba407.subject == "config/broker.json"
    assert ba407.severity == "error"
    assert "it is missing there" in ba407.title
    assert ba407.location is not None
    assert ba407.location.path == f"{PROJECT}/app/settings.py"
    assert keys_of("BA407", ba407.subject) == (("cwd", ""),)
    (cwd,) = [i for i in derive(baseline, target, {}, "py") if i.keys == (("cwd", ""),)]
    assert cwd.cwd == PROJECT


def test_ba408_xdist_workers_under_tox_only() -> None:
    baseline = make_snapshot()
    target = make_snapshot(pytest={"xdist_worker": True})
    (ba408,) = [f for f in diagnose(baseline, target, env_name="py").findings if f.code == "BA408"]
    assert (ba408.subject, ba408.severity, ba408.group) == ("xdist", "warning", "cause")
    (controller,) = [i for i in derive(baseline, target, {}, "py") if i.keys == (("xdist", ""),)]
    assert request_for(ProbeRequest(python="p", cwd=Path("/")), controller, None).experiment == {
        "skip_pth": [],
        "run_files": [],
        "path_prepend": [],
        "xdist_view": "controller",
    }
    assert not [f for f in diagnose(target, target).findings if f.code == "BA408"]


def test_a_confirmed_cause_leads_the_symptom_findings_in_the_terminal() -> None:
    baseline, target = _unit_tests_pair()
    report = _verified(baseline, target, lambda keys: ("env", "UNIT_TESTS") in keys, {"UNIT_TESTS": "1"})
    by_code = {f.code: f for f in report.findings}
    assert {by_code["BA602"].id, by_code["BA601"].id} <= set(report.findings[0].explains)
    assert [f.code for f in report.findings if f.root_cause] == ["BA101"]
    text = render(report, "terminal")
    assert text.index("UNIT_TESTS is set locally") < text.index("global broker differs")


def test_always_verifies_a_passing_env_too() -> None:
    baseline, target = _unit_tests_pair()
    report = diagnose(baseline, target, env_name="py")
    good, bad = symptom_of(baseline, PROJECT), symptom_of(target, PROJECT)
    request = ProbeRequest(python="python", cwd=Path(PROJECT))
    run = _fake(lambda keys: ("env", "UNIT_TESTS") in keys, good, bad, [])
    out = verify(
        report,
        baseline,
        target,
        request,
        {"UNIT_TESTS": "1"},
        PROJECT,
        mode="always",
        outcome="passed",
        runner=run,
    )
    assert out.findings[0].verification is not None
    assert out.findings[0].verification.status == "confirmed"


def test_a_baseline_that_crashed_has_no_result_to_reproduce() -> None:
    """django_dramatiq without pytest-django under tox: the local run of the env's command
    crashed while plugins loaded. No experiment can make the target equal a crash, so every
    one would look refuted and push the real cause (pytest-django missing) down: none runs."""
    baseline, target = _unit_tests_pair()
    crashed = dataclasses.replace(
        baseline, pytest=dataclasses.replace(baseline.pytest, crash="ImportError: No module named 'tests'")
    )
    report = diagnose(crashed, target, env_name="py")
    request = ProbeRequest(python="python", cwd=Path(PROJECT))

    def never(batch: Sequence[Intervention]) -> Sequence[Result]:
        msg = "no re-probe expected"
        raise AssertionError(msg)

    assert verify(report, crashed, target, request, {}, PROJECT, mode="always", runner=never) is report


def test_a_plugin_a_crashed_run_loaded_is_tested_by_loading_it_not_by_its_package() -> None:
    """A run that stopped while plugins loaded records them as how="other". The baseline-only
    distribution (BA201 pytest-django) is tested by loading its plugin: its package alone on
    sys.path registers no entry point, and that experiment refuted the real cause."""
    django = plugin("django", "pytest_django.plugin", prefix="/venv", distribution="pytest-django")
    django["file"] = "/venv/lib/python3.12/site-packages/pytest_django/plugin.py"
    django["how"] = "other"
    origin = {
        "module": "pytest_django",
        "file": "/venv/lib/python3.12/site-packages/pytest_django/__init__.py",
        "in_project": False,
        "distribution": "pytest-django",
    }
    baseline = make_snapshot(prefix="/venv", plugins=[django], origins=[origin])
    target = make_snapshot(prefix="/tox")
    pool = derive(baseline, target, {}, "py")
    testing = [i for i in pool if set(keys_of("BA201", "pytest-django")) & set(i.keys)]
    assert [i.args for i in testing] == [("-p", "pytest_django.plugin")]
    assert not [i for i in pool if ("package", "pytest_django") in i.keys]
