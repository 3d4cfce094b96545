"""Two interventions of the verify stage on hand-built snapshots, with a fake runner: the
baseline's ini ``addopts`` and a target-only ``sitecustomize`` skipped.

The fake runner stands in for the re-probe only (the baseline's symptom when the intervention
undoes the cause); the probe's side of both runs for real in tests/test_verify_probe.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from _snapshot_factory import PROJECT, make_snapshot
from test_brokers_rules import RABBIT, STUB, _actor, _creation, _section, _set
from tox_broker_audit.diagnosis.engine import diagnose
from tox_broker_audit.snapshot.capture import ProbeRequest
from tox_broker_audit.snapshot.model import Snapshot
from tox_broker_audit.verify.interventions import Intervention, derive, keys_of
from tox_broker_audit.verify.runner import request_for
from tox_broker_audit.verify.search import Result
from tox_broker_audit.verify.stage import verify
from tox_broker_audit.verify.symptom import symptom_of

TOX_SC = "/tox/lib/python3.12/site-packages/sitecustomize.py"


def _brokers(cls: str) -> dict[str, object]:
    return _section(cls, [_actor("send_welcome", cls)], [_creation(cls)], [_set(cls)], [])


def _pair(
    *, base: dict[str, object] | None = None, tgt: dict[str, object] | None = None, **target: object
) -> tuple[Snapshot, Snapshot]:
    baseline = make_snapshot(prefix="/venv", brokers=_brokers(STUB), **(base or {}))  # type: ignore[arg-type]
    return baseline, make_snapshot(prefix="/tox", brokers=_brokers(RABBIT), **(tgt or {}), **target)  # type: ignore[arg-type]


def _verified(baseline: Snapshot, target: Snapshot, undoes: tuple[str, str]) -> list[tuple[str, str, str]]:
    """diagnose + verify, the re-probe giving the baseline's symptom for the ``undoes`` key only."""
    good, bad = symptom_of(baseline, PROJECT), symptom_of(target, PROJECT)
    seen: list[Intervention] = []

    def run(batch: Sequence[Intervention]) -> Sequence[Result]:
        seen.extend(batch)
        return [(good if undoes in i.keys else bad, 0.1) for i in batch]

    report = diagnose(baseline, target, env_name="py")
    request = ProbeRequest(python="python", cwd=Path(PROJECT))
    out = verify(report, baseline, target, request, {}, PROJECT, mode="auto", runner=run)
    assert any(undoes in i.keys for i in seen)
    return [(f.code, f.subject, f.verification.status) for f in out.findings if f.verification]


def test_a_target_only_sitecustomize_is_skipped_and_that_confirms_ba303() -> None:
    custom = {"module": "sitecustomize", "path": TOX_SC, "sha256": "b", "imported": ["app.broker"]}
    baseline, target = _pair(sitecustomize=custom)
    found = {i.keys[0]: i for i in derive(baseline, target, {}, "py")}
    skip = found[("sitecustomize", "sitecustomize")]
    assert (skip.skip_customize, skip.run_files) == (("sitecustomize",), ())
    assert skip.words == f"without the sitecustomize of the env ({TOX_SC}) at start-up"
    assert keys_of("BA303", "sitecustomize") == (("sitecustomize", "sitecustomize"),)
    out = request_for(ProbeRequest(python="python", cwd=Path(PROJECT)), skip, None)
    assert out.experiment is not None
    assert out.experiment["skip_customize"] == ["sitecustomize"]
    verified = _verified(baseline, target, ("sitecustomize", "sitecustomize"))
    assert verified[0] == ("BA303", "sitecustomize", "confirmed")


def test_the_same_sitecustomize_on_both_sides_is_not_skipped() -> None:
    custom = {"module": "sitecustomize", "path": "/venv/sc.py", "sha256": "a", "imported": []}
    baseline, target = _pair(base={"sitecustomize": custom}, sitecustomize=custom)
    assert not [i for i in derive(baseline, target, {}, "py") if i.skip_customize]


def test_the_baseline_ini_addopts_replace_the_targets_and_that_confirms_ba403() -> None:
    baseline, target = _pair(
        base={"pytest": {"addopts": ["-p", "app.unit_mode", "--strict-markers"]}},
        pytest={"addopts": ["--strict-markers"]},
    )
    found = {i.keys[0]: i for i in derive(baseline, target, {}, "py")}
    addopts = found[("addopts", "")]
    assert addopts.args == ("-o", "addopts=-p app.unit_mode --strict-markers")
    assert addopts.words == "with the baseline's addopts (`-o addopts=-p app.unit_mode --strict-markers`)"
    assert keys_of("BA403", "addopts") == (("config", ""), ("cwd", ""), ("addopts", ""))
    assert ("addopts", "") not in keys_of("BA403", "inifile")
    assert ("BA403", "addopts", "confirmed") in _verified(baseline, target, ("addopts", ""))


def test_pytest_addopts_from_the_environment_is_not_an_ini_difference() -> None:
    ini = ["--strict-markers"]
    baseline, target = _pair(
        base={"pytest": {"addopts": ini}},
        env={"HOME": "/home/u", "PYTEST_ADDOPTS": "-p 'app.unit mode'"},
        pytest={"addopts": [*ini, "-p", "app.unit mode"]},
    )
    found = {i.keys[0]: i for i in derive(baseline, target, {}, "py")}
    assert ("addopts", "") not in found
    assert found[("env", "PYTEST_ADDOPTS")].env_unset == ("PYTEST_ADDOPTS",)


def test_baseline_addopts_with_a_hidden_value_are_untestable() -> None:
    baseline, target = _pair(base={"pytest": {"addopts": ["--api-token", "***"]}})
    addopts = next(i for i in derive(baseline, target, {}, "py") if ("addopts", "") in i.keys)
    assert (addopts.args, addopts.untestable) == ((), "the baseline's addopts hold a hidden (secret) value")
