"""The test oracle on hand-built snapshots: the new interventions (a tox-only package hidden,
the local selection), the verdicts when the failing tests pass, and a cure no rule named.

A fake runner stands in for the re-probe (the tests' outcome with the intervention applied);
the probe's side runs for real in tests/test_oracle_probe.py, the whole loop in tests/scenarios.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from _snapshot_factory import PROJECT, dist, make_snapshot, origin
from tox_broker_audit._audit import AuditJob, _tested, capture
from tox_broker_audit.diagnosis.engine import diagnose
from tox_broker_audit.renderers.layout import verification_line
from tox_broker_audit.snapshot.baseline import LiveBaseline
from tox_broker_audit.snapshot.capture import ProbeRequest
from tox_broker_audit.snapshot.model import Snapshot
from tox_broker_audit.verify.interventions import Intervention, derive, keys_of
from tox_broker_audit.verify.oracle import OracleRun
from tox_broker_audit.verify.runner import request_for
from tox_broker_audit.verify.search import Result
from tox_broker_audit.verify.stage import verify
from tox_broker_audit.verify.symptom import Symptom

TEST = f"{PROJECT}/tests/test_feeds.py::test_ingest"
REDIS = "/tox/lib/python3.12/site-packages/redis/__init__.py"


def _outcome(test_id: str, outcome: str, message: str = "") -> dict[str, str]:
    nodeid = test_id.replace(PROJECT + "/", "")
    return {"nodeid": nodeid, "id": test_id, "outcome": outcome, "message": message}


def _tests(outcome: str, message: str = "") -> dict[str, object]:
    return {"tests": [_outcome(TEST, outcome, message)]}


def _redis_pair() -> tuple[Snapshot, Snapshot]:
    baseline = make_snapshot(prefix="/venv", pytest=_tests("passed"))
    target = make_snapshot(
        prefix="/tox",
        dists=[
            dist("pytest", "8.3.0", prefix="/tox", top_level=["pytest"]),
            dist("redis", "5.0.1", prefix="/tox"),
        ],
        origins=[origin("redis", REDIS, distribution="redis")],
        pytest=_tests("failed", "ConnectionError: Error 111 connecting to 127.0.0.1:6379"),
    )
    return baseline, target


def _runner(
    cures: Callable[[Intervention], bool], seen: list[Intervention]
) -> Callable[..., Sequence[Result]]:
    name = "tests/test_feeds.py::test_ingest"

    def run(batch: Sequence[Intervention]) -> Sequence[Result]:
        seen.extend(batch)
        return [
            (
                Symptom(
                    tests=((name, "passed" if cures(i) else "failed"),), failure="" if cures(i) else "boom"
                ),
                0.4,
            )
            for i in batch
        ]

    return run


def _verified(
    baseline: Snapshot,
    target: Snapshot,
    cures: Callable[[Intervention], bool],
    values: dict[str, str] | None = None,
) -> tuple:
    seen: list[Intervention] = []
    report = diagnose(baseline, target, env_name="py", outcome="failed")
    request = ProbeRequest(python="python", cwd=Path(PROJECT))
    oracle = OracleRun((TEST,), target, baseline, {"nodeids": [TEST]})
    out = verify(
        report,
        baseline,
        target,
        request,
        values or {},
        PROJECT,
        outcome="failed",
        runner=_runner(cures, seen),
        oracle=oracle,
    )
    return out, seen


def test_a_package_only_under_tox_is_hidden_from_import() -> None:
    baseline, target = _redis_pair()
    hidden = [i for i in derive(baseline, target, {}, "py") if i.hide]
    assert [(i.keys, i.hide, i.words) for i in hidden] == [
        (
            (("package", "redis"), ("dist", "redis")),
            ("redis",),
            "with redis hidden from import (it is not installed locally)",
        )
    ]
    request = request_for(ProbeRequest(python="python", cwd=Path(PROJECT)), hidden[0], None)
    assert request.experiment is not None
    assert request.experiment["hide"] == ["redis"]
    assert set(hidden[0].keys) & set(keys_of("BA202", "redis"))


def test_the_tests_passing_confirm_the_cause_and_the_report_says_by_what() -> None:
    baseline, target = _redis_pair()
    out, seen = _verified(baseline, target, lambda i: "redis" in i.hide)
    top = out.findings[0]
    assert (top.code, top.subject, top.severity) == ("BA202", "redis", "error")
    assert top.verification is not None
    assert (top.verification.status, top.verification.oracle) == ("confirmed", "tests")
    assert top.verification.tests is not None
    assert top.verification.tests.failing == ("tests/test_feeds.py::test_ingest",)
    assert top.verification.tests.passing == ("tests/test_feeds.py::test_ingest",)
    assert verification_line(top) == (
        "confirmed: with redis hidden from import (it is not installed locally), "
        "tests/test_feeds.py::test_ingest passes (1 re-run, 0.4 s)"
    )
    assert len(seen) == 1  # the top finding's experiment cured it: no search over the rest


def test_a_cure_no_rule_named_gets_the_code_of_what_differs() -> None:
    # The env reads APP_MODE only inside a test, and no rule ranks it a cause; setting it cures.
    read = {
        "name": "APP_MODE",
        "how": "get",
        "phase": "test",
        "file": f"{PROJECT}/tests/conftest.py",
        "line": 3,
        "module": "conftest",
        "present": True,
    }
    baseline = make_snapshot(
        prefix="/venv", env={"HOME": "/home/u", "APP_MODE": "test"}, reads=[read], pytest=_tests("passed")
    )
    target = make_snapshot(
        prefix="/tox", reads=[dict(read, present=False)], pytest=_tests("failed", "KeyError")
    )
    out, _ = _verified(baseline, target, lambda i: ("env", "APP_MODE") in i.keys, {"APP_MODE": "test"})
    top = out.findings[0]
    assert (top.code, top.subject) == ("BA101", "APP_MODE")
    assert top.verification is not None
    assert (top.verification.status, top.verification.oracle) == ("confirmed", "tests")


def test_the_local_selection_replaces_the_envs(tmp_path: Path) -> None:
    (tmp_path / "tests" / "unit").mkdir(parents=True)
    baseline = make_snapshot(prefix="/venv")
    target = make_snapshot(prefix="/tox", pytest={"args": ["tests/unit", "-q"]})
    baseline = _at(baseline, tmp_path)
    target = _at(target, tmp_path)
    (selection,) = [i for i in derive(baseline, target, {}, "py") if i.selection is not None]
    assert selection.keys == (("selection", ""),)
    assert selection.words == "with the local run's selection (`pytest`)"
    assert ("selection", "") in keys_of("BA404", "tests/integration/conftest.py")
    request = ProbeRequest(python="python", cwd=tmp_path, pytest_args=("tests/unit", "-q"))
    assert request_for(request, selection, None).pytest_args == ("-q",)


def _at(snapshot: Snapshot, cwd: Path) -> Snapshot:
    import dataclasses

    return dataclasses.replace(snapshot, meta=dataclasses.replace(snapshot.meta, cwd=str(cwd)))


def test_no_test_runs_on_a_passing_env() -> None:
    calls: list[str] = []

    def target() -> ProbeRequest:
        calls.append("target")
        return ProbeRequest(python="python", cwd=Path(PROJECT))

    snapshot = make_snapshot()
    captured = capture("py", lambda: snapshot, lambda: snapshot)
    plan = LiveBaseline(python="python", found_by="test", environ={})
    job = AuditJob(
        name="py", root=Path(PROJECT), plan=plan, target=target, baseline=lambda: snapshot, outcome="passed"
    )
    same, step = _tested(job, captured)
    assert (same, step.run, step.lines) == (captured, None, ())
