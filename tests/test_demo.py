"""``broker-audit demo`` end to end: real venv, real pip, real pytest, real tox."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from helpers import CLI, run

pytestmark = pytest.mark.slow


def test_demo_tells_the_whole_story(tmp_path: Path) -> None:
    proc = run([*CLI, "demo", "--keep", tmp_path], timeout=1200, check=False)
    output = proc.stdout
    assert proc.returncode == 0, output + proc.stderr
    # The local run passed, the tox run failed with the broker symptom.
    assert "PASSED — 2 passed" in output
    assert "FAILED, as the team sees it" in output
    symptom = next(line for line in output.splitlines() if line.strip().startswith("symptom: "))
    assert "dramatiq.errors.ConnectionClosed" in symptom or "pika.exceptions.AMQPConnectionError" in symptom
    # Progress was shown for each slow step.
    for step in ("[1/4] creating the local venv", "[2/4] installing it", "[4/4] tox --broker-audit"):
        assert step in output
    project = tmp_path / "stubbroker-under-tox"
    report = json.loads((project / ".tox" / "py" / "broker-audit" / "report.json").read_text())
    top = report["findings"][0]
    assert (top["code"], top["subject"]) == ("BA101", "UNIT_TESTS")
    assert "pass_env = UNIT_TESTS" in top["fix"]
    # The reader sees findings[0] first: the first finding line the terminal printed is its title.
    marks = ("✖ ", "▲ ", "· ")
    first_printed = next(line.strip() for line in output.splitlines() if line.strip().startswith(marks))
    assert first_printed.startswith(f"{first_printed[:2]}{top['title']}   [{top['code']}]"), output
    # It ends with what to change, in one line, and how to see it written and tox pass.
    last = output.rstrip().splitlines()
    assert last[-3].startswith("what to change: ")
    assert "pass_env = UNIT_TESTS" in last[-3]
    assert last[-2] == "to see it written into tox.ini and tox pass: broker-audit demo --fix"


def test_demo_fix_writes_the_change_and_tox_passes(tmp_path: Path) -> None:
    """``demo --fix``: the confirmed change lands in tox.ini, only there, and tox passes."""
    proc = run([*CLI, "demo", "--fix", "--keep", tmp_path], timeout=1200, check=False)
    output = proc.stdout
    assert proc.returncode == 0, output + proc.stderr
    fixed = [line for line in output.splitlines() if "fixed: tox.ini:" in line]
    assert len(fixed) == 1, output
    assert "pass_env += UNIT_TESTS" in fixed[0]
    assert "py now passes (2 passed)" in fixed[0]
    assert output.rstrip().splitlines()[-2] == "the loop is closed: the cause, the change, and tox passing"
    tox_ini = (tmp_path / "stubbroker-under-tox" / "tox.ini").read_text(encoding="utf-8")
    assert "UNIT_TESTS" in tox_ini
    assert f"tox.ini now reads:\n{tox_ini}" in output


def test_demo_celery_tells_celerys_story(tmp_path: Path) -> None:
    """``demo --celery``: memory:// locally through CELERY_BROKER_URL, RabbitMQ's refusal under tox,
    the variable as the confirmed cause and Celery's own findings as its chain."""
    proc = run([*CLI, "demo", "--celery", "--keep", tmp_path], timeout=1200, check=False)
    output = proc.stdout
    assert proc.returncode == 0, output + proc.stderr
    assert "the developer's shell exports: CELERY_BROKER_URL=memory://" in output
    assert "(celery, kombu, pytest from the package index)" in output
    assert "PASSED — 2 passed" in output
    symptom = next(line for line in output.splitlines() if line.strip().startswith("symptom: "))
    assert "kombu.exceptions.OperationalError" in symptom
    report = json.loads(
        (tmp_path / "celery-under-tox" / ".tox" / "py" / "broker-audit" / "report.json").read_text()
    )
    top = report["findings"][0]
    assert (top["code"], top["subject"], top["verification"]["status"]) == (
        "BA101",
        "CELERY_BROKER_URL",
        "confirmed",
    )
    chain = {f["id"]: (f["code"], f["subject"]) for f in report["findings"]}
    explained = {chain[i] for i in top["explains"]}
    assert {("BA612", "orders.broker_url"), ("BA611", "orders.send_receipt")} <= explained
    assert "the broker is amqp://guest@localhost:5672// under tox (py), memory:// locally" in output
    last = output.rstrip().splitlines()
    assert "pass_env = CELERY_BROKER_URL" in last[-3]
    assert last[-2] == "to see it written into tox.ini and tox pass: broker-audit demo --celery --fix"


def test_demo_without_package_index_is_one_clear_line(tmp_path: Path) -> None:
    """No network to the package index: a one-line error, and nothing left behind."""
    env = {
        **os.environ,
        "TMPDIR": str(tmp_path),
        "PIP_CONFIG_FILE": os.devnull,  # ignore the machine's pip.conf (local mirrors)
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
        "PIP_FIND_LINKS": "",
        "PIP_EXTRA_INDEX_URL": "",
        "PIP_RETRIES": "0",
        "PIP_TIMEOUT": "2",
    }
    proc = run([*CLI, "demo"], check=False, timeout=600, env=env)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("broker-audit: error: cannot reach the package index"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("broker-audit-demo-*"))
