"""On a passing env: the invariant (no finding above info but the allowed few), in every format.

docs/findings.md, "On a passing env": when the env's tests passed, nothing is above info
except drift against a reference snapshot, BA604 (the local run only passes because a real
broker answers) and the audit's own failures (BA901, BA903).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _snapshot_factory import PROJECT, dist, make_snapshot, origin, plugin, pth, read
from tox_broker_audit import render
from tox_broker_audit._audit import count_failing
from tox_broker_audit.diagnosis.engine import diagnose, probe_failure_finding
from tox_broker_audit.diagnosis.model import Report
from tox_broker_audit.snapshot.model import Snapshot

B, T = "/proj/.venv", "/proj/.tox/py"
ALLOWED_ON_GREEN = {"BA604", "BA901", "BA903"}

RABBIT = {
    "id": "RabbitmqBroker@127.0.0.1:5672",
    "class": "RabbitmqBroker",
    "target": "127.0.0.1:5672",
    "kind": "rabbitmq",
    "url": None,
}
STUB = {"id": "StubBroker", "class": "StubBroker", "target": None, "kind": "stub", "url": None}


def _actor(name: str, broker: dict[str, Any], module: str = "app.tasks") -> dict[str, Any]:
    return {
        "name": name,
        "module": module,
        "queue": "default",
        "broker_id": broker["id"],
        "broker_class": broker["class"],
        "broker_target": broker["target"],
        "bound_to_global": broker is STUB,
        "file": f"{PROJECT}/{module.replace('.', '/')}.py",
        "line": 5,
        "phase": "collection",
    }


def _brokers(
    actors: list[dict[str, Any]], *, global_broker: dict[str, Any] | None, reach: str | None = None
) -> dict[str, Any]:
    known = {a["broker_id"]: a for a in actors}
    brokers = [b for b in (RABBIT, STUB) if b["id"] in known or b is global_broker]
    return {
        "captured": True,
        "dramatiq_installed": True,
        "dramatiq_imported": True,
        "global_broker": global_broker,
        "brokers": brokers,
        "actors": actors,
        "reachability": (
            [{"target": "127.0.0.1:5672", "protocol": "amqp", "status": reach, "detail": ""}] if reach else []
        ),
    }


# --------------------------------------------------------------------------- the property


@st.composite
def _side(draw: Any, prefix: str) -> dict[str, Any]:
    """One side's ingredients: variables read by code, packages, start-up files, plugins,
    brokers, a crash, xdist workers, collection errors."""
    names = draw(st.lists(st.sampled_from(["UNIT_TESTS", "BROKER_URL", "APP_ENV", "DB_NAME"]), unique=True))
    env = {n: draw(st.sampled_from(["1", "amqp://rabbit:5672", "ci"])) for n in names}
    readers = draw(st.sampled_from([f"{PROJECT}/app/broker.py", f"{PROJECT}/tests/conftest.py"]))
    how = draw(st.sampled_from(["getenv", "getitem", "contains"]))
    reads = [
        read(n, readers, module="app.broker", present=n in env, how=how)
        for n in ["UNIT_TESTS", "BROKER_URL", "APP_ENV", "DB_NAME"]
    ]
    dists = [dist("pytest", "8.3.0", prefix=prefix, top_level=["pytest", "_pytest"])]
    extras = draw(
        st.lists(st.sampled_from(["redis", "pika", "pytest-env", "execnet", "pytest-xdist"]), unique=True)
    )
    dists += [
        dist(d, draw(st.sampled_from(["1.0", "2.0"])), prefix=prefix, top_level=[d.replace("-", "_")])
        for d in extras
    ]
    plugins = (
        [plugin("env", "pytest_env.plugin", prefix=prefix, distribution="pytest-env")]
        if "pytest-env" in extras
        else []
    )
    pths = (
        [pth("zzz_early.pth", prefix=prefix, exec_lines=["import app.tasks"], imported=["app.tasks"])]
        if draw(st.booleans())
        else []
    )
    actors_to = draw(st.sampled_from([None, STUB, RABBIT]))
    brokers = None
    if actors_to is not None:
        brokers = _brokers(
            [_actor("send", actors_to)],
            global_broker=draw(st.sampled_from([None, STUB, RABBIT])),
            reach=draw(st.sampled_from([None, "refused", "reachable"])),
        )
    pytest_section: dict[str, Any] = {"xdist_worker": draw(st.booleans())}
    if draw(st.integers(0, 5)) == 0:
        pytest_section.update(
            rootdir=None, inifile=None, conftests=[], exit_code=4, crash="KeyError: 'DB_NAME'"
        )
    if draw(st.booleans()):
        pytest_section["collection_errors"] = [
            {"nodeid": "tests/test_x.py", "message": "No module named 'redis'"}
        ]
    return {
        "prefix": prefix,
        "env": env,
        "reads": reads,
        "dists": dists,
        "plugins": plugins,
        "pth_files": pths,
        "brokers": brokers,
        "pytest": pytest_section,
        "origins": [origin("app.tasks", f"{PROJECT}/app/tasks.py", in_project=True)],
        "version": draw(st.sampled_from(["3.12.3", "3.11.9"])),
    }


@st.composite
def _pairs(draw: Any) -> tuple[Snapshot, Snapshot]:
    baseline = make_snapshot(**draw(_side(B)))
    target = make_snapshot(**draw(_side(T)), source_kind="tox-env")
    return baseline, target


def _above_info(report: Report) -> list[str]:
    return [f"{f.code}:{f.subject}:{f.severity}" for f in report.findings if f.severity != "info"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=_pairs(), probe_failed=st.booleans())
def test_on_a_passing_env_nothing_but_the_allowed_exceptions_is_above_info(
    pair: tuple[Snapshot, Snapshot], probe_failed: bool
) -> None:
    baseline, target = pair
    extra = [probe_failure_finding("baseline", "time-out")] if probe_failed else []
    report = diagnose(baseline, target, env_name="py", outcome="passed", extra_findings=extra)
    loud = [f for f in report.findings if f.severity != "info" and f.code not in ALLOWED_ON_GREEN]
    assert loud == [], _above_info(report)
    assert count_failing(report, "warning") == sum(1 for f in report.findings if f.severity != "info")
    # Kept, not dropped: the same findings as on a failed env, only quieter.
    failed = diagnose(baseline, target, env_name="py", outcome="failed", extra_findings=extra)
    assert sorted(f.id for f in report.findings) == sorted(f.id for f in failed.findings)


# --------------------------------------------------------------------------- every format


def _loud_pair() -> tuple[Snapshot, Snapshot]:
    """Differences that are errors and warnings on a failed env: UNIT_TESTS not passed, actors on
    a real broker, an early-importing .pth, pytest-env only locally, a newer pika."""
    reads = [read("UNIT_TESTS", f"{PROJECT}/app/broker.py", module="app.broker", present=True)]
    baseline = make_snapshot(
        prefix=B,
        env={"UNIT_TESTS": "1"},
        reads=reads,
        dists=[dist("pika", "1.0", prefix=B, top_level=["pika"]), dist("pytest-env", "1.1", prefix=B)],
        plugins=[plugin("env", "pytest_env.plugin", prefix=B, distribution="pytest-env")],
        origins=[origin("app.tasks", f"{PROJECT}/app/tasks.py", in_project=True)],
        brokers=_brokers([_actor("send", STUB)], global_broker=STUB),
    )
    target = make_snapshot(
        prefix=T,
        env={},
        reads=[{**reads[0], "present": False}],
        dists=[dist("pika", "2.0", prefix=T, top_level=["pika"])],
        pth_files=[pth("zzz_early.pth", prefix=T, exec_lines=["import app.tasks"], imported=["app.tasks"])],
        origins=[origin("app.tasks", f"{PROJECT}/app/tasks.py", in_project=True)],
        brokers=_brokers([_actor("send", RABBIT)], global_broker=RABBIT, reach="reachable"),
        source_kind="tox-env",
    )
    return baseline, target


def test_a_green_report_annotates_nothing_at_warning_or_error_in_any_ci_format() -> None:
    baseline, target = _loud_pair()
    failed = diagnose(baseline, target, env_name="py", outcome="failed")
    assert {"error", "warning"} <= {f.severity for f in failed.findings}  # the pair is loud
    report = diagnose(baseline, target, env_name="py", outcome="passed")
    assert _above_info(report) == []
    assert count_failing(report, "warning") == 0
    assert report.findings[0].code == failed.findings[0].code  # same ranking, quieter
    assert {f.group for f in report.findings} == {f.group for f in failed.findings}

    github = render(report, "github")
    assert "::error" not in github
    assert "::warning" not in github
    gitlab = json.loads(render(report, "gitlab"))
    assert {issue["severity"] for issue in gitlab} <= {"info"}
    azure = render(report, "azure")
    assert "##vso[task.logissue" not in azure
    sarif = json.loads(render(report, "sarif"))
    assert {r["level"] for run in sarif["runs"] for r in run["results"]} <= {"note"}
    assert "✖" not in render(report, "terminal")
    assert "▲" not in render(report, "terminal")
    assert '"severity": "error"' not in render(report, "json")


def test_drift_against_a_reference_still_warns_on_a_passing_env() -> None:
    """The exception (a): a CI drift check exists to fail a green run that drifted."""
    _baseline, target = _loud_pair()
    reference = make_snapshot(
        prefix=B,
        env={"UNIT_TESTS": "1"},
        reads=[read("UNIT_TESTS", f"{PROJECT}/app/broker.py", module="app.broker")],
        origins=[origin("app.tasks", f"{PROJECT}/app/tasks.py", in_project=True)],
        brokers=_brokers([_actor("send", STUB)], global_broker=STUB),
        source_kind="reference",
    )
    report = diagnose(reference, target, env_name="py", outcome="passed")
    assert _above_info(report) != []


def test_verify_always_on_a_passing_env_tests_the_causes_and_stays_quiet() -> None:
    """``--broker-audit-verify=always`` on a green env: the capped causes are still tried first,
    and what the stage adds or re-orders (a confirmed cause, BA701) is information too."""
    from pathlib import Path

    from tox_broker_audit.snapshot.capture import ProbeRequest
    from tox_broker_audit.verify.stage import verify
    from tox_broker_audit.verify.symptom import symptom_of

    baseline, target = _loud_pair()
    report = diagnose(baseline, target, env_name="py", outcome="passed")
    good, bad = symptom_of(baseline, PROJECT), symptom_of(target, PROJECT)

    def run(batch: Any) -> list[Any]:
        return [(good if ("env", "UNIT_TESTS") in i.keys else bad, 0.1) for i in batch]

    request = ProbeRequest(python="python", cwd=Path(PROJECT))
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
    assert out.findings[0].code == "BA101"
    assert out.findings[0].verification is not None
    assert out.findings[0].verification.status == "confirmed"
    assert _above_info(out) == []


def test_xdist_workers_set_up_like_the_local_run_and_execnet_are_no_cause() -> None:
    """``pytest -n 2`` under tox with a conftest that sets the StubBroker in every process: the
    worker's view binds the actor as the local one-process run does, so BA408 is information,
    and execnet (pytest-xdist's dependency, installed only under tox) is tox's noise — on a
    failed env too: the rules say so, not only the passing-env cap."""
    xdist = [dist("pytest-xdist", "3.8", prefix=T, top_level=["xdist"]), dist("execnet", "2.1", prefix=T)]
    stub = _brokers([_actor("page", STUB)], global_broker=STUB)
    baseline = make_snapshot(prefix=B, brokers=stub, origins=[origin("execnet", f"{B}/x.py")])
    target = make_snapshot(
        prefix=T,
        dists=[dist("pytest", "8.3.0", prefix=T, top_level=["pytest", "_pytest"]), *xdist],
        plugins=[plugin("xdist", "xdist.plugin", prefix=T, distribution="pytest-xdist")],
        origins=[
            origin("execnet", f"{T}/lib/python3.12/site-packages/execnet/__init__.py", distribution="execnet")
        ],
        brokers=stub,
        pytest={"xdist_worker": True},
        source_kind="tox-env",
    )
    report = diagnose(baseline, target, env_name="py")
    by = {(f.code, f.subject): f for f in report.findings}
    assert (by["BA408", "xdist"].severity, by["BA408", "xdist"].group) == ("info", "other")
    assert (by["BA202", "execnet"].severity, by["BA202", "execnet"].group) == ("info", "expected")
    assert _above_info(report) == []
    # The controller-only set-up: the worker's actor lands on the real broker — still a cause.
    missed = dataclasses.replace(
        target, brokers=make_snapshot(brokers=_brokers([_actor("page", RABBIT)], global_broker=None)).brokers
    )
    ba408 = next(f for f in diagnose(baseline, missed, env_name="py").findings if f.code == "BA408")
    assert (ba408.severity, ba408.group) == ("warning", "cause")
