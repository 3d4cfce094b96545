"""BA611-BA614 on hand-built snapshots: what counts as a difference Celery made, and what not.

The probe's side is tested on real Celery in tests/test_celery_probe.py; here the rules' own
contract: the same fact on both sides is never a finding, a setting no task call can use is
information, and each finding names the source of each side's value.
"""

from __future__ import annotations

from typing import Any

from _snapshot_factory import make_snapshot
from tox_broker_audit.diagnosis.engine import diagnose
from tox_broker_audit.diagnosis.model import Finding
from tox_broker_audit.snapshot.model import Snapshot


def _setting(name: str, value: Any, source: str = "config", detail: str | None = None) -> dict[str, Any]:
    return {"name": name, "value": value, "source": source, "detail": detail}


def _app(app_id: str = "shop", *, eager: bool, broker: str | None, **extra: Any) -> dict[str, Any]:
    return {
        "id": app_id,
        "main": app_id,
        "fallback": app_id == "default",
        "is_default": False,
        "phase": "collection",
        "file": "/proj/shop/celery_app.py",
        "line": 3,
        "module": "shop.celery_app",
        "config_source": "shop.celeryconfig",
        "settings": [
            _setting(
                "broker_url",
                broker,
                *extra.get("broker_source", ("config", "shop.celeryconfig as broker_url")),
            ),
            _setting("result_backend", extra.get("backend")),
            _setting("task_always_eager", eager, "config", "shop.celeryconfig as task_always_eager"),
            _setting("task_store_eager_result", extra.get("store", False), "default"),
        ],
        "tasks": ["shop.tasks.add"],
    }


def _call(outcome: str, *, eager: bool, broker: str | None, side: str | None = None) -> dict[str, Any]:
    target = "127.0.0.1:5672" if broker and broker.startswith("amqp") else None
    return {
        "task": "shop.tasks.add",
        "app_id": "shop",
        "outcome": outcome,
        "eager": eager,
        "broker": broker,
        "broker_target": target,
        "backend": None,
        "backend_target": None,
        "error": "OperationalError: [Errno 111] Connection refused" if outcome == "error" else None,
        "error_side": side,
        "phase": "test",
        "file": "/proj/tests/test_add.py",
        "line": 5,
    }


def _side(apps: list[dict[str, Any]], calls: list[dict[str, Any]] = (), **kw: Any) -> Snapshot:  # type: ignore[assignment]
    celery = {"imported": True, "apps": apps, "calls": list(calls)}
    return make_snapshot(brokers={"captured": True, "celery": celery}, **kw)


def _celery(findings: tuple[Finding, ...]) -> list[tuple[str, str, str]]:
    return [(f.code, f.subject, f.severity) for f in findings if f.code.startswith("BA61")]


AMQP = "amqp://guest@127.0.0.1:5672//"


def test_eagerness_differing_explains_the_failed_call() -> None:
    local = _side([_app(eager=True, broker=AMQP)], [_call("eager", eager=True, broker=AMQP)])
    tox = _side([_app(eager=False, broker=AMQP)], [_call("error", eager=False, broker=AMQP, side="broker")])
    report = diagnose(local, tox)
    ba612, ba611 = report.findings[0], report.findings[1]
    assert (ba612.code, ba612.subject, ba612.root_cause) == ("BA612", "shop.task_always_eager", True)
    assert (ba611.code, ba611.subject, ba611.severity) == ("BA611", "shop.tasks.add", "error")
    assert ba611.id in ba612.explains  # the chain: the setting, then the call it broke
    assert "shop.celeryconfig as task_always_eager" in ba612.detail
    assert "module:shop.celeryconfig" in ba612.about  # what explains it: the config module


def test_the_same_failing_call_on_both_sides_is_no_finding() -> None:
    failing = [_call("error", eager=False, broker=AMQP, side="broker")]
    local = _side([_app(eager=False, broker=AMQP)], failing)
    tox = _side([_app(eager=False, broker=AMQP)], failing)
    assert _celery(diagnose(local, tox).findings) == []


def test_a_broker_no_call_uses_is_information() -> None:
    """Eager on both sides: the broker differs (a variable locally), but nothing is sent."""
    local = _side(
        [_app(eager=True, broker="memory://", broker_source=("env", "CELERY_BROKER_URL"))],
        env={"HOME": "/home/u", "CELERY_BROKER_URL": "memory://"},
    )
    tox = _side([_app(eager=True, broker=AMQP)])
    assert _celery(diagnose(local, tox).findings) == [("BA612", "shop.broker_url", "info")]


def test_an_app_missing_on_one_side_with_the_fallback_app_there_is_ba614() -> None:
    local = _side([_app(eager=True, broker=None)], [_call("eager", eager=True, broker=None)])
    fallback = _app("default", eager=False, broker=None)
    orphan = {**_call("error", eager=False, broker=None, side="broker"), "app_id": "default"}
    tox = _side([fallback], [orphan])
    report = diagnose(local, tox)
    found = _celery(report.findings)
    assert ("BA614", "shop", "error") in found
    assert ("BA611", "shop.tasks.add", "error") in found
    ba614 = next(f for f in report.findings if f.code == "BA614")
    assert "shop.celery_app" in ba614.fix
    assert ba614.location is not None
    assert ba614.location.line == 3
