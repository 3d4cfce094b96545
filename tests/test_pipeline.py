"""The one audit pipeline (``_audit.run_audit``) with real probes of this interpreter.

What it must make impossible by construction: a verify experiment that sets a variable to a
value the baseline never had. Only a *live* baseline plan carries the environment it ran with;
a reference directory (or a snapshot file) has only fingerprints of secret values, so in a CI
job the job's own environment must never be taken as the reference's values.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from helpers import write_tree
from tox_broker_audit import _audit
from tox_broker_audit.diagnosis.hooks import RenderOptions
from tox_broker_audit.snapshot.baseline import LiveBaseline, ReferenceDirBaseline, plan_baseline
from tox_broker_audit.snapshot.capture import ProbeRequest, fingerprint_key, take_snapshot
from tox_broker_audit.snapshot.model import Source
from tox_broker_audit.snapshot.reference import save_reference

#: The test module needs LEDGER_TOKEN at collection; its conftest logs every value it saw,
#: outside the project (the probe refuses writes under it).
PROJECT = {
    "conftest.py": """
        import os, pathlib
        log = pathlib.Path(os.environ["PIPELINE_LOG"])
        with log.open("a") as fh:
            fh.write(repr(os.environ.get("LEDGER_TOKEN")) + "\\n")
        """,
    "tests/test_ledger.py": """
        import os
        MODE = os.environ["LEDGER_TOKEN"]


        def test_mode():
            assert MODE
        """,
}


def _request(project: Path, env: dict[str, str], kind: str = "tox-env") -> ProbeRequest:
    return ProbeRequest(
        python=sys.executable,
        cwd=project,
        env=env,
        source=Source(kind=kind, name="py", description="py"),
        project_root=project,
        key=KEY,
    )


KEY = fingerprint_key()


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = write_tree(tmp_path / "proj", PROJECT)
    base = {"PATH": str(Path(sys.executable).parent), "PIPELINE_LOG": str(tmp_path / "seen.log")}
    return root, base


def _job(
    project: Path, env: dict[str, str], plan: object, baseline: object, environ: dict[str, str] | None = None
) -> _audit.AuditJob:
    return _audit.AuditJob(
        name="py",
        root=project,
        plan=plan,  # type: ignore[arg-type]
        target=lambda: _request(project, env),
        baseline=baseline,  # type: ignore[arg-type]
        output=RenderOptions(formats=("json",)),
        environ=environ or {},  # the front door's environment, e.g. a CI job's
        verify="always",
        outcome="failed",
    )


def _variable_finding(result: _audit.AuditResult) -> dict[str, object]:
    report = json.loads("\n".join(result.lines))
    return next(f for f in report["findings"] if f["subject"] == "LEDGER_TOKEN")


def test_a_reference_in_ci_never_lends_the_jobs_environment(project: tuple[Path, dict[str, str]]) -> None:
    root, base = project
    references = root.parent / "refs"
    save_reference(take_snapshot(_request(root, {**base, "LEDGER_TOKEN": "s3cr3t-local"})), references, "py")
    job_environ = {**base, "CI": "true", "LEDGER_TOKEN": "from-the-ci-job"}
    plan = plan_baseline(str(references), tox_root=root, work_dir=root / ".tox", environ=job_environ)
    assert isinstance(plan, ReferenceDirBaseline)

    result = _audit.run_audit(
        _job(root, base, plan, lambda: _audit.take_baseline(plan, root, KEY, env_name="py"), job_environ)
    )

    seen = (root.parent / "seen.log").read_text().splitlines()
    assert "'from-the-ci-job'" not in seen  # no re-probe ran with the job's value
    assert result.report.findings[0].subject == "LEDGER_TOKEN"
    verification = _variable_finding(result)["verification"]
    assert verification is not None
    assert verification["status"] == "untested"  # a secret's fingerprint is not a value


def test_a_live_baseline_lends_its_own_values(project: tuple[Path, dict[str, str]]) -> None:
    """The control: with a live plan the same experiment runs with the baseline's value and
    confirms the cause (so the test above can fail)."""
    root, base = project
    local = {**base, "LEDGER_TOKEN": "s3cr3t-local"}
    plan = LiveBaseline(sys.executable, "this interpreter", local)

    result = _audit.run_audit(_job(root, base, plan, lambda: take_snapshot(_request(root, local, "cli"))))

    assert "'s3cr3t-local'" in (root.parent / "seen.log").read_text().splitlines()[2:]  # a re-probe's
    verification = _variable_finding(result)["verification"]
    assert verification is not None
    assert verification["status"] == "confirmed"
    assert result.report.findings[0].subject == "LEDGER_TOKEN"
