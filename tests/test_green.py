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


# --------------------------------------------------------------------------- same on both sides


def _bench_pair() -> tuple[Snapshot, Snapshot]:
    """dramatiq's own suite under tox (py311-gevent): the env's command could not be emulated, so
    the target collected the whole suite, benchmarks included; their actors are bound to the
    RabbitmqBroker that both runs build the same way (same class, same endpoint)."""
    tests_actor = _actor("do_work", STUB, module="tests.test_actors")
    base = _brokers([tests_actor], global_broker=STUB)
    base["brokers"] = [RABBIT, STUB]
    bench = [_actor(f"bench_{i}", RABBIT, module=f"benchmarks.bench_{i}") for i in range(3)]
    tgt = _brokers([tests_actor, *bench], global_broker=STUB)
    baseline = make_snapshot(prefix=B, brokers=base)
    target = make_snapshot(prefix=T, brokers=tgt, source_kind="tox-env")
    return baseline, target


def test_actors_only_the_target_collected_on_a_broker_both_runs_build_alike_are_no_cause() -> None:
    baseline, target = _bench_pair()
    for outcome in (None, "failed"):
        report = diagnose(baseline, target, env_name="py", outcome=outcome)
        bound = [f for f in report.findings if f.code == "BA601"]
        assert bound, [f.code for f in report.findings]
        assert all((f.severity, f.group) == ("info", "other") for f in bound), [
            (f.severity, f.group) for f in bound
        ]
        assert all(f.evidence.get("in_both_runs") for f in bound)
        assert _above_info(report) == []


def test_an_actor_the_baseline_bound_to_a_stub_is_still_a_difference() -> None:
    """The class, not the instance: the same broker on both sides does not hide an actor that
    the local run bound to a StubBroker and the env binds to RabbitMQ."""
    baseline, target = _bench_pair()
    moved = _brokers([_actor("do_work", RABBIT, module="tests.test_actors")], global_broker=STUB)
    target = dataclasses.replace(target, brokers=make_snapshot(brokers=moved).brokers)
    (ba601,) = [f for f in diagnose(baseline, target, env_name="py").findings if f.code == "BA601"]
    assert (ba601.severity, ba601.group) == ("error", "cause")


def test_the_same_actor_on_another_endpoint_is_not_the_same_fact() -> None:
    """Both runs bind send to a real broker (the suite expects a stub): in both runs, unless
    the endpoint differs — then it is a difference, whatever the names say."""
    other = {**RABBIT, "id": "RabbitmqBroker@rabbit:5672", "target": "rabbit:5672"}
    stub_too = {"creations": [], "set_calls": []}
    base = {**_brokers([_actor("send", RABBIT)], global_broker=STUB), **stub_too}
    same = diagnose(
        make_snapshot(prefix=B, brokers=base), make_snapshot(prefix=T, brokers=base), env_name="py"
    )
    assert [(f.severity, f.evidence.get("in_both_runs")) for f in same.findings if f.code == "BA601"] == [
        ("info", True)
    ]
    tgt = {**_brokers([_actor("send", other)], global_broker=STUB), **stub_too}
    tgt["brokers"] = [other, STUB]
    moved = diagnose(
        make_snapshot(prefix=B, brokers=base), make_snapshot(prefix=T, brokers=tgt), env_name="py"
    )
    assert [f.severity for f in moved.findings if f.code == "BA601"] == ["error"]


# --------------------------------------------------------------------------- crashes name their cause

_CRASHED = {"rootdir": None, "inifile": None, "import_mode": None, "conftests": [], "exit_code": 4}
_SETTINGS = f"{PROJECT}/proj/settings.py"
_DECOUPLE = f"{T}/lib/python3.12/site-packages/decouple.py"


def _crash_pair(crash: str, reads: list[dict[str, Any]], env: dict[str, str]) -> tuple[Snapshot, Snapshot]:
    origins = [origin("proj.settings", _SETTINGS, in_project=True)]
    baseline = make_snapshot(prefix=B, env=env, reads=reads, origins=origins)
    missing = [{**r, "present": False} for r in reads]
    target = make_snapshot(
        prefix=T, env={}, reads=missing, pytest={**_CRASHED, "crash": crash}, source_kind="tox-env"
    )
    return baseline, target


def _first_and_crash(baseline: Snapshot, target: Snapshot) -> tuple[Any, Any]:
    report = diagnose(baseline, target, env_name="py", outcome="failed")
    crash = next(f for f in report.findings if f.code == "BA902" and f.subject == "collection")
    return report, crash


def test_a_crash_naming_a_variable_is_explained_by_it_not_by_a_variable_read_with_a_default() -> None:
    """python-decouple: settings read DB_PASSWORD with a default (``os.getenv("DB_PASSWORD", "")``,
    project code) and ALLOWED_HOST through decouple, which raised. The crash names ALLOWED_HOST."""
    reads = [
        read("DB_PASSWORD", _SETTINGS, module="proj.settings", phase="conftest", how="getenv"),
        read("ALLOWED_HOST", _DECOUPLE, module="decouple", phase="conftest", how="contains"),
        read("DB_PASSWORD", _DECOUPLE, module="decouple", phase="conftest", how="contains"),
    ]
    crash = "decouple.UndefinedValueError: ALLOWED_HOST not found. "
    crash += "Declare it as envvar or define a default value."
    baseline, target = _crash_pair(crash, reads, {"DB_PASSWORD": "pw", "ALLOWED_HOST": "localhost"})
    report, ba902 = _first_and_crash(baseline, target)
    first = report.findings[0]
    assert (first.code, first.subject, first.root_cause) == ("BA101", "ALLOWED_HOST", True)
    assert ba902.id in first.explains
    password = next(f for f in report.findings if f.code == "BA101" and f.subject == "DB_PASSWORD")
    assert ba902.id not in password.explains
    assert report.findings.index(password) > report.findings.index(ba902)


def test_a_keyerror_is_explained_by_its_variable_not_by_its_neighbour_in_the_same_module() -> None:
    reads = [
        read("LEDGER_URL", _SETTINGS, module="proj.settings", phase="conftest", how="getitem"),
        read("LEDGER_TIMEOUT", _SETTINGS, module="proj.settings", phase="conftest", how="get", line=2),
    ]
    baseline, target = _crash_pair(
        "KeyError: 'LEDGER_URL'", reads, {"LEDGER_URL": "http://l", "LEDGER_TIMEOUT": "3"}
    )
    report, ba902 = _first_and_crash(baseline, target)
    assert (report.findings[0].code, report.findings[0].subject) == ("BA101", "LEDGER_URL")
    assert ba902.id in report.findings[0].explains
    timeout = next(f for f in report.findings if f.subject == "LEDGER_TIMEOUT")
    assert ba902.id not in timeout.explains


def test_a_crash_naming_a_variable_nobody_was_seen_reading_is_still_its_effect() -> None:
    """The read went through a copy of the environment the probe does not trace: the crash's
    words name the variable, set locally and missing under tox."""
    reads = [read("LEDGER_TIMEOUT", _SETTINGS, module="proj.settings", phase="conftest", how="get")]
    baseline, target = _crash_pair(
        "KeyError: 'LEDGER_URL'", reads, {"LEDGER_URL": "http://l", "LEDGER_TIMEOUT": "3"}
    )
    report, ba902 = _first_and_crash(baseline, target)
    url = next(f for f in report.findings if f.code == "BA101" and f.subject == "LEDGER_URL")
    assert ba902.id in url.explains
    assert report.findings[0].id == url.id


def test_a_crash_naming_a_module_is_explained_by_the_missing_package() -> None:
    redis = dist("redis", "5.0", prefix=B, top_level=["redis"])
    base_dists = [dist("pytest", "8.3.0", prefix=B, top_level=["pytest", "_pytest"]), redis]
    origins = [origin("redis", f"{B}/lib/python3.12/site-packages/redis/__init__.py", distribution="redis")]
    baseline = make_snapshot(prefix=B, dists=base_dists, origins=origins)
    target = make_snapshot(
        prefix=T,
        pytest={**_CRASHED, "crash": "ModuleNotFoundError: No module named 'redis'"},
        source_kind="tox-env",
    )
    report, ba902 = _first_and_crash(baseline, target)
    assert (report.findings[0].code, report.findings[0].subject) == ("BA201", "redis")
    assert ba902.id in report.findings[0].explains
