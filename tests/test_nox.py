"""The nox front door through real nox runs (``python -m nox``) on a small dramatiq project.

The case is one nox really differs in (nox passes the whole shell environment, unlike tox):
the developer's venv has pytest-env, whose ``env = UNIT_TESTS=1`` ini block makes the app
build a StubBroker; the nox session installs pytest and the project but not pytest-env, so
the ini block is silently ignored and the app builds a RabbitmqBroker.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from _schemas import validate_sarif
from helpers import install, make_venv, run, write_tree

pytestmark = pytest.mark.slow

PROJECT = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "mailer"
        version = "0.1.0"
        dependencies = ["dramatiq", "pika"]

        [tool.setuptools]
        packages = ["mailer"]

        [tool.pytest.ini_options]
        testpaths = ["tests"]
        env = ["UNIT_TESTS=1"]
    """,
    "mailer/__init__.py": "",
    # dramatiq's testing guide: pick the broker from UNIT_TESTS.
    "mailer/broker.py": """
        import os

        import dramatiq
        from dramatiq.brokers.rabbitmq import RabbitmqBroker
        from dramatiq.brokers.stub import StubBroker

        if os.getenv("UNIT_TESTS") == "1":
            broker = StubBroker()
            broker.emit_after("process_boot")
        else:
            broker = RabbitmqBroker(url="amqp://127.0.0.1:5672?connection_attempts=1")
        dramatiq.set_broker(broker)
    """,
    "mailer/tasks.py": """
        import dramatiq

        from mailer.broker import broker


        @dramatiq.actor(broker=broker, queue_name="mail")
        def send_welcome(user_id: int) -> None:
            print(f"welcome {user_id}")
    """,
    "tests/test_mail.py": """
        from mailer import tasks
        from mailer.broker import broker


        def test_welcome_is_queued():
            tasks.send_welcome.send(7)
            assert broker.queues["mail"].qsize() == 1
    """,
}

NOXFILE = """
    import nox

    import tox_broker_audit.nox

    LOCAL = {local!r}
    BROKEN = {broken!r}


    @nox.session(venv_backend="uv")
    def tests(session):
        session.install("pytest", ".")
        tox_broker_audit.nox.audit(session, baseline=LOCAL)


    @nox.session(venv_backend="uv")
    def strict(session):
        session.install("pytest", ".")
        tox_broker_audit.nox.audit(session, baseline=LOCAL, fail_on="error", formats=["terminal", "sarif"])


    @nox.session(venv_backend="uv")
    def crash(session):
        report = tox_broker_audit.nox.audit(session, baseline=BROKEN, fail_on="error")
        session.log(f"audit returned {{report.findings[0].code}}, the session goes on")


    @nox.session(venv_backend="uv")
    def badarg(session):
        tox_broker_audit.nox.audit(session, baseline=LOCAL, fail_on="sometimes")


    @nox.session(venv_backend="uv")
    def nobudget(session):
        session.install("pytest", ".")
        tox_broker_audit.nox.audit(session, baseline=LOCAL, verify="always", verify_budget="0")


    @nox.session(venv_backend="none")
    def badbudget(session):
        tox_broker_audit.nox.audit(session, baseline=LOCAL, verify_budget="lots")


    @nox.session(venv_backend="uv")
    def fixdiff(session):
        # The fix goes below this comment.
        session.install("pytest", ".")
        tox_broker_audit.nox.audit(session, baseline=LOCAL, fix="diff")


    @nox.session(venv_backend="none")
    def badfix(session):
        tox_broker_audit.nox.audit(session, baseline=LOCAL, fix="apply")


    @nox.session(venv_backend="none")
    def passthrough(session):
        tox_broker_audit.nox.audit(session, baseline=BROKEN)
"""


def _shell() -> dict[str, str]:
    """The developer's shell: everything (index and CA settings too), but no active venv."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV" and not k.startswith("PYTEST_")}
    env["NO_COLOR"] = "1"
    return env


def nox(project: Path, session: str) -> tuple[int, str]:
    proc = run(
        [sys.executable, "-m", "nox", "--no-color", "-s", session],
        cwd=project,
        env=_shell(),
        check=False,
        timeout=300,
    )
    return proc.returncode, proc.stdout + proc.stderr


def _report(project: Path, session: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(
        (project / ".nox" / session / "broker-audit" / "report.json").read_text()
    )
    return data


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nox")
    proj = write_tree(root / "proj", PROJECT)
    local = root / "dev-venv"  # the developer's own venv, outside the project
    python = make_venv(local, creator="uv")
    install(python, "pytest", "pytest-env", editable=proj)
    broken = root / "broken-python"
    broken.write_text("#!/bin/sh\necho 'Fatal Python error: init_fs_encoding' >&2\nexit 1\n")
    broken.chmod(0o755)
    write_tree(proj, {"noxfile.py": NOXFILE.format(local=str(local), broken=str(broken))})
    return proj


def test_the_session_is_explained_and_artefacts_are_written(project: Path) -> None:
    code, out = nox(project, "tests")
    assert code == 0, out
    assert "Traceback" not in out
    report = _report(project, "tests")
    findings = report["findings"]
    assert isinstance(findings, list)
    assert (findings[0]["code"], findings[0]["subject"]) == ("BA401", "pytest-env"), findings[:3]
    # Said the nox way: where it differs and what to change in the noxfile.
    assert "in nox session tests" in findings[0]["detail"]
    assert findings[0]["fix"] == 'noxfile.py: session.install("pytest-env") in the session'
    # The verify stage re-ran the session's collection with the local pytest-env loaded.
    assert findings[0]["verification"]["status"] == "confirmed", findings[0]["verification"]
    assert "under tox" not in out
    assert report["env"] == "tests"
    assert report["target"]["kind"] == "nox-session"  # type: ignore[index]
    out_dir = project / ".nox" / "tests" / "broker-audit"
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "baseline.json",
        "report.json",
        "report.md",
        "target.json",
    ]
    target = json.loads((out_dir / "target.json").read_text())
    assert target["interpreter"]["prefix"] == str(project / ".nox" / "tests")
    assert target["meta"]["cwd"] == str(project)
    assert "pytest-env" in out  # the report is printed in the session's output


def test_fix_diff_shows_the_session_line_and_never_writes_the_noxfile(project: Path) -> None:
    noxfile = project / "noxfile.py"
    before = noxfile.read_bytes()
    code, out = nox(project, "fixdiff")
    assert code == 0, out
    assert "--- a/noxfile.py\n+++ b/noxfile.py\n" in out
    # At the top of the session's body, indented as the body is.
    assert '     # The fix goes below this comment.\n+    session.install("pytest-env")\n' in out
    assert noxfile.read_bytes() == before
    code, out = nox(project, "badfix")
    assert code != 0
    assert "broker-audit: fix='apply' is not one of off, diff" in out
    assert "Traceback" not in out


def test_fail_on_ends_the_session_with_one_line(project: Path) -> None:
    code, out = nox(project, "strict")
    assert code != 0, out
    assert "Traceback" not in out
    assert "broker audit: " in out
    assert " finding(s) at or above fail_on=error" in out
    sarif = project / ".nox" / "strict" / "broker-audit" / "report.sarif"
    validate_sarif(json.loads(sarif.read_text(encoding="utf-8")))


def test_a_crashing_probe_is_ba901_and_the_session_goes_on(project: Path) -> None:
    code, out = nox(project, "crash")
    assert code == 0, out
    assert "Traceback" not in out
    assert "no baseline: the probe crashed" in out
    assert "audit returned BA901, the session goes on" in out
    findings = _report(project, "crash")["findings"]
    assert isinstance(findings, list)
    assert (findings[0]["code"], findings[0]["subject"]) == ("BA901", "baseline")


def test_bad_arguments_end_the_session_with_one_line(project: Path) -> None:
    code, out = nox(project, "badarg")
    assert code != 0
    assert "broker-audit: fail_on='sometimes' is not one of never, error, warning" in out
    assert "Traceback" not in out


def test_the_verify_budget_keyword_bounds_the_re_probes(project: Path) -> None:
    code, out = nox(project, "nobudget")
    assert code == 0, out
    findings = _report(project, "nobudget")["findings"]
    assert isinstance(findings, list)
    assert findings[0]["code"] == "BA401"
    assert findings[0].get("verification") is None  # a budget of 0 re-probes: nothing re-ran
    code, out = nox(project, "badbudget")
    assert code != 0
    assert "broker-audit: verify_budget='lots' (expected RUNS or RUNS/SECONDS, e.g. 12/60)" in out
    assert "Traceback" not in out


def test_a_session_without_a_venv_is_audited_in_place(project: Path) -> None:
    code, out = nox(project, "passthrough")
    assert code == 0, out
    target = json.loads((project / ".nox" / "passthrough" / "broker-audit" / "target.json").read_text())
    assert target["meta"]["source"]["kind"] == "nox-session"


def test_importing_the_module_is_cheap() -> None:
    code = (
        "import sys, tox_broker_audit.nox; "
        "heavy = {'nox', 'tox', 'pluggy', 'tox_broker_audit.diagnosis.engine'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    run([sys.executable, "-c", code])
