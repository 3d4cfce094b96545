"""BA601–BA605 on hand-built snapshots: severities, wording, and the causal chain with BA101."""

from __future__ import annotations

from typing import Any

from _snapshot_factory import PROJECT, make_snapshot, read
from tox_broker_audit.diagnosis.engine import diagnose
from tox_broker_audit.diagnosis.model import Finding, Report
from tox_broker_audit.diagnosis.rules import brokers as broker_rules
from tox_broker_audit.diagnosis.rules import reachability
from tox_broker_audit.snapshot.model import Snapshot

BROKER_RULES = [*broker_rules.broker_audit_rules(), *reachability.broker_audit_rules()]

RABBIT = {
    "id": "RabbitmqBroker@127.0.0.1:5672",
    "class": "RabbitmqBroker",
    "target": "127.0.0.1:5672",
    "kind": "rabbitmq",
    "url": "amqp://guest:***@127.0.0.1:5672/%2F",
}
STUB = {"id": "StubBroker", "class": "StubBroker", "target": None, "kind": "stub", "url": None}
BROKER_PY = f"{PROJECT}/app/broker.py"
TASKS_PY = f"{PROJECT}/app/tasks.py"


def _actor(
    name: str, broker: dict[str, Any], *, bound_to_global: bool = True, phase: str = "collection"
) -> dict[str, Any]:
    return {
        "name": name,
        "module": "app.tasks",
        "queue": "default",
        "broker_id": broker["id"],
        "broker_class": broker["class"],
        "broker_target": broker["target"],
        "bound_to_global": bound_to_global,
        "file": TASKS_PY,
        "line": 5,
        "phase": phase,
    }


def _creation(
    broker: dict[str, Any],
    *,
    file: str = BROKER_PY,
    module: str = "app.broker",
    implicit: bool = False,
    phase: str = "collection",
    stack: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    site = {"file": file, "line": 7, "module": module}
    return {
        "broker_id": broker["id"],
        "class": broker["class"],
        "implicit_default": implicit,
        "phase": phase,
        "file": file,
        "line": 7,
        "module": module,
        "target": broker["target"],
        "stack": stack if stack is not None else [site],
    }


def _set(
    broker: dict[str, Any],
    *,
    file: str = BROKER_PY,
    module: str = "app.broker",
    implicit: bool = False,
    phase: str = "collection",
) -> dict[str, Any]:
    return {
        "broker_id": broker["id"],
        "class": broker["class"],
        "implicit_default": implicit,
        "phase": phase,
        "file": file,
        "line": 8,
        "module": module,
    }


def _reach(target: str, status: str) -> dict[str, Any]:
    return {"target": target, "protocol": "amqp", "status": status, "detail": status, "elapsed_ms": 1.0}


def _section(
    global_broker: dict[str, Any] | None,
    actors: list[dict[str, Any]],
    creations: list[dict[str, Any]],
    set_calls: list[dict[str, Any]],
    reach: list[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    brokers = {b["id"]: b for b in ([global_broker] if global_broker else [])}
    for c in creations:
        brokers.setdefault(c["broker_id"], RABBIT if c["class"] == "RabbitmqBroker" else STUB)
    return {
        "captured": True,
        "dramatiq_installed": True,
        "dramatiq_version": "1.17.0",
        "dramatiq_imported": True,
        "instrumented": True,
        "pika_installed": True,
        "redis_installed": False,
        "global_broker": global_broker,
        "brokers": list(brokers.values()),
        "actors": actors,
        "creations": creations,
        "set_calls": set_calls,
        "env_urls": [],
        "celery_urls": [],
        "reachability": reach,
        **extra,
    }


def _by_code(report: Report) -> dict[str, Finding]:
    return {f.code: f for f in report.findings}


def _unit_tests_pair() -> tuple[Snapshot, Snapshot]:
    """The README's example: UNIT_TESTS read by app/broker.py decides the broker."""
    baseline = make_snapshot(
        prefix="/home/u/.venv",
        env={"HOME": "/home/u", "UNIT_TESTS": "1"},
        reads=[read("UNIT_TESTS", BROKER_PY, line=7, module="app.broker")],
        brokers=_section(STUB, [_actor("send_welcome", STUB)], [_creation(STUB)], [_set(STUB)], []),
    )
    target = make_snapshot(
        prefix="/proj/.tox/py312",
        env={"HOME": "/home/u"},
        reads=[read("UNIT_TESTS", BROKER_PY, line=7, module="app.broker", present=False)],
        brokers=_section(
            RABBIT,
            [_actor("send_welcome", RABBIT), _actor("resize", RABBIT)],
            [_creation(RABBIT)],
            [_set(RABBIT)],
            [_reach("127.0.0.1:5672", "refused")],
        ),
    )
    return baseline, target


def test_unit_tests_chain_ba101_ba602_ba601_ba603() -> None:
    baseline, target = _unit_tests_pair()
    report = diagnose(baseline, target, env_name="py312")
    top = report.findings[0]
    assert (top.code, top.subject, top.root_cause) == ("BA101", "UNIT_TESTS", True)
    found = _by_code(report)
    assert {"BA601", "BA602", "BA603"} <= set(found)
    assert "BA604" not in found
    assert "BA605" not in found
    assert found["BA602"].id in top.explains
    assert found["BA601"].id in found["BA602"].explains
    assert found["BA603"].id in found["BA601"].explains
    assert found["BA602"].severity == "error"
    assert (
        found["BA602"].title
        == "global broker differs: StubBroker locally, RabbitmqBroker(127.0.0.1:5672) under tox (py312)"
    )
    ba601 = found["BA601"]
    assert ba601.subject == "app.tasks.send_welcome, app.tasks.resize"
    assert "locally they were bound to StubBroker" in ba601.detail
    assert "make app.broker build a StubBroker under test" in ba601.fix
    assert ba601.location is not None
    assert ba601.location.path == TASKS_PY
    assert found["BA603"].title.endswith("— what actor.send() hits")


def test_broker_rules_alone_without_baseline() -> None:
    _, target = _unit_tests_pair()
    report = diagnose(None, target, rules=BROKER_RULES)
    # Nothing in the target says a stub was expected: only the unreachable target is reported.
    assert [f.code for f in report.findings] == ["BA603"]


def test_implicit_default_from_pth_at_startup() -> None:
    pth_file = "/venv/lib/python3.12/site-packages/zz_app.pth"
    implicit = _creation(
        RABBIT,
        file=TASKS_PY,
        module="app.tasks",
        implicit=True,
        phase="startup",
        stack=[
            {"file": TASKS_PY, "line": 4, "module": "app.tasks"},
            {"file": pth_file, "line": None, "module": "site"},
        ],
    )
    target = make_snapshot(
        brokers=_section(
            STUB,
            [_actor("send", RABBIT, bound_to_global=False, phase="startup")],
            [
                implicit,
                _creation(STUB, file=f"{PROJECT}/tests/conftest.py", module="conftest", phase="conftest"),
            ],
            [
                _set(RABBIT, file=TASKS_PY, module="app.tasks", implicit=True, phase="startup"),
                _set(STUB, file=f"{PROJECT}/tests/conftest.py", module="conftest", phase="conftest"),
            ],
            [_reach("127.0.0.1:5672", "timeout")],
        ),
    )
    report = diagnose(None, target, rules=BROKER_RULES)
    found = _by_code(report)
    ba605 = found["BA605"]
    assert ba605.severity == "error"
    assert ba605.title == (
        "dramatiq created its implicit default RabbitmqBroker(127.0.0.1:5672) at app/tasks.py:7 "
        "at interpreter start-up"
    )
    assert f"{pth_file} (a .pth file run at start-up)" in ba605.detail
    assert "StubBroker was set as the global broker later (tests/conftest.py:8" in ba605.detail
    assert f"file:{pth_file}" in ba605.about
    assert ba605.root_cause
    assert found["BA601"].id in ba605.explains
    assert found["BA603"].severity == "error"
    assert "did not answer in time" in found["BA603"].title


def test_no_illusion_when_the_real_broker_does_not_answer() -> None:
    snap = make_snapshot(
        brokers=_section(
            RABBIT,
            [_actor("send", RABBIT)],
            [_creation(RABBIT)],
            [_set(RABBIT)],
            [_reach("127.0.0.1:5672", "refused")],
        )
    )
    assert "BA604" not in _by_code(diagnose(None, snap, rules=BROKER_RULES))
    live = make_snapshot(
        brokers=_section(
            RABBIT,
            [_actor("send", RABBIT)],
            [_creation(RABBIT)],
            [_set(RABBIT)],
            [_reach("127.0.0.1:5672", "reachable")],
        )
    )
    ba604 = _by_code(diagnose(None, live, rules=BROKER_RULES))["BA604"]
    assert ba604.severity == "warning"
    assert ba604.evidence["side"] == "target"


def test_not_captured_or_no_dramatiq_yields_nothing() -> None:
    report = diagnose(make_snapshot(), make_snapshot(), rules=BROKER_RULES)
    assert report.findings == ()
    empty = make_snapshot(brokers={"captured": True, "dramatiq_installed": False})
    assert diagnose(empty, empty, rules=BROKER_RULES).findings == ()


def test_the_same_facts_in_both_runs_are_no_tox_difference() -> None:
    """Both runs use dramatiq's implicit default broker and both are refused (a green env whose
    tests never send): BA603/BA605 are said "in both runs", as information, never as errors
    "under tox" — so --broker-audit-fail-on=error passes."""
    implicit = _creation(RABBIT, file=TASKS_PY, module="app.tasks", implicit=True, phase="collection")

    def run(prefix: str) -> Snapshot:
        return make_snapshot(
            prefix=prefix,
            brokers=_section(
                RABBIT,
                [_actor("send", RABBIT)],
                [implicit],
                [_set(RABBIT, file=TASKS_PY, module="app.tasks", implicit=True)],
                [_reach("127.0.0.1:5672", "refused")],
            ),
        )

    alone = _by_code(diagnose(None, run("/proj/.tox/py"), env_name="py"))
    assert (alone["BA603"].severity, alone["BA605"].severity) == ("error", "warning")
    report = diagnose(run("/home/u/.venv"), run("/proj/.tox/py"), env_name="py")
    serious = [f for f in report.findings if f.severity in ("error", "warning")]
    assert serious == []
    found = _by_code(report)
    for code in ("BA603", "BA605"):
        assert (found[code].severity, found[code].group, found[code].root_cause) == ("info", "other", False)
    assert found["BA603"].title.startswith("127.0.0.1:5672 refused the connection in both runs")
    assert "under tox" not in found["BA603"].title
