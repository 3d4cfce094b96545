"""A side that did not collect (an env command the audit cannot emulate) is compared only on
what both sides have without running pytest: no invented collection, no invented cause."""

from __future__ import annotations

import dataclasses

from test_brokers_rules import _unit_tests_pair
from tox_broker_audit.diagnosis.engine import diagnose
from tox_broker_audit.snapshot.model import PytestSection, Snapshot
from tox_broker_audit.snapshot.views import collected, comparable, without_collection

WHY = "the env's commands run no pytest the audit can emulate"


def _uncollected(snapshot: Snapshot) -> Snapshot:
    """What the probe writes when told not to collect: no pytest section beyond availability."""
    pytest = PytestSection(available=True, version="8.3.0", not_collected=WHY)
    empty = without_collection(snapshot, WHY)
    return dataclasses.replace(empty, pytest=pytest)


def _pair() -> tuple[Snapshot, Snapshot]:
    """The README's pair (UNIT_TESTS decides the broker), its target probed without collecting:
    the target's actors on RabbitMQ and the refused connection must not count."""
    baseline, target = _unit_tests_pair()
    return baseline, _uncollected(target)


def test_the_collected_side_loses_what_only_collecting_learns() -> None:
    baseline, target = _pair()
    assert collected(baseline)
    assert not collected(target)
    left, right = comparable(baseline, target)
    assert right is target
    assert left.pytest.not_collected == WHY
    assert left.pytest.plugins == ()
    assert left.brokers.actors == ()
    assert left.brokers.global_broker is None
    assert [r.phase for r in left.environ.reads] == []  # the read was during collection
    assert left.environ.variables == baseline.environ.variables  # values are start-up facts


def test_no_collection_finding_comes_from_the_side_that_collected() -> None:
    baseline, target = _pair()
    report = diagnose(baseline, target, env_name="py312", outcome="failed")
    codes = {f.code for f in report.findings}
    assert not codes & {"BA601", "BA602", "BA603", "BA305", "BA401"}, [
        (f.code, f.subject) for f in report.findings
    ]
    # A variable only one side has is still a difference of the environments.
    unit_tests = [f for f in report.findings if f.subject == "UNIT_TESTS"]
    assert [f.code for f in unit_tests] == ["BA101"]
    assert unit_tests[0].group != "cause"  # no code was seen reading it: not a cause


def test_two_collected_sides_are_compared_in_full() -> None:
    baseline, target = _pair()
    full = dataclasses.replace(target, pytest=baseline.pytest)
    assert comparable(baseline, full) == (baseline, full)


def test_the_probe_runs_no_pytest_when_told_not_to(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A real probe of this interpreter: the conftest that would record its import never runs,
    and the snapshot says why pytest was not run."""
    import sys

    from helpers import write_tree
    from tox_broker_audit.snapshot.capture import ProbeRequest, take_snapshot
    from tox_broker_audit.snapshot.model import Source

    marker = tmp_path / "conftest-ran"
    project = write_tree(
        tmp_path / "proj",
        {
            "conftest.py": f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n",
            "tests/test_x.py": "def test_x():\n    pass\n",
        },
    )
    snapshot = take_snapshot(
        ProbeRequest(
            python=sys.executable,
            cwd=project,
            source=Source(kind="tox-env", name="py", description="py"),
            project_root=project,
            no_collection=WHY,
        )
    )
    assert not marker.exists()
    assert snapshot.pytest.not_collected == WHY
    assert snapshot.pytest.available  # pytest is installed here, only not run
    assert snapshot.pytest.collected == 0
    assert snapshot.distributions  # the packages are still there to compare
