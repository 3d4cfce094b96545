"""The audit writes nothing into the project and never clobbers the real run's outputs; bad
input under tox is one line or a BA901 finding, never a lost report (issue 13).

Real parts: a project whose pytest configuration writes every kind of output (junit from
``addopts`` and ``PYTEST_ADDOPTS``, pytest-cov, pytest-html, pytest-benchmark autosave,
``log_file``), installed from the index into the tox env and into the developer's ``.venv``
(the baseline), audited by real tox and by ``broker-audit snapshot``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

import pytest

from helpers import CLI, install, make_venv, run, run_tox, tox_shell, write_tree

pytestmark = pytest.mark.slow

WRITERS = ("pytest", "pytest-cov", "pytest-benchmark", "pytest-html")

PROJECT = {
    "pkg/__init__.py": """
        def add(a, b):
            return a + b

        def unused():
            return 0
    """,
    "tests/test_pkg.py": """
        import logging

        import pkg

        def test_add():
            logging.getLogger("pkg").info("record of the real run")
            assert pkg.add(1, 2) == 3

        def test_bench(benchmark):
            assert benchmark(pkg.add, 2, 2) == 4
    """,
    "pytest.ini": """
        [pytest]
        pythonpath = .
        addopts = --junitxml=reports/junit.xml --cov=pkg --cov-report=xml:reports/coverage.xml
                  --html=reports/report.html --benchmark-autosave
        log_file = reports/pytest.log
        log_file_level = INFO
    """,
    "tox.ini": """
        [tox]
        env_list = py

        [testenv]
        package = skip
        deps =
            pytest
            pytest-cov
            pytest-benchmark
            pytest-html
        set_env =
            PYTEST_ADDOPTS = --junitxml=reports/env-junit.xml
        commands = python -c "print('no tests in this command')"
        # The command runs no pytest: tell the audit what to collect (else it collects nothing).
        broker_audit_pytest_args = tests
    """,
    # The developer's own coverage data: the baseline probe must not touch it.
    ".coverage": "the developer's own coverage data\n",
}


def _shell(**extra: str) -> dict[str, str]:
    return tox_shell(**extra)


def tox(project: Path, *args: str, **extra: str) -> tuple[int, str]:
    return run_tox(project, *args, timeout=900, **extra)


def tree(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file and directory, without tox's and the venv's."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in (".tox", ".venv")]
        for name in dirnames:
            out[os.path.normpath(os.path.join(rel_dir, name)) + "/"] = "dir"
        for name in filenames:
            path = Path(dirpath) / name
            out[os.path.normpath(os.path.join(rel_dir, name))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def writing_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_tree(tmp_path_factory.mktemp("nowrites") / "proj", PROJECT)
    python = make_venv(root / ".venv")
    install(python, *WRITERS)
    code, out = tox(root)  # creates the env (deps from the index); its command writes nothing
    assert code == 0, out
    return root


def test_the_audit_and_the_snapshot_command_write_nothing_into_the_project(writing_project: Path) -> None:
    before = tree(writing_project)
    assert not any(p.startswith(("reports", ".benchmarks", ".pytest_cache")) for p in before), before
    # The baseline runs with the shell's environment: PYTEST_ADDOPTS from there too.
    shell_addopts = "--junitxml=reports/shell-junit.xml --cov-append"
    code, out = tox(writing_project, "--broker-audit", PYTEST_ADDOPTS=shell_addopts)
    assert code == 0, out
    report = json.loads((writing_project / ".tox/py/broker-audit/report.json").read_text(encoding="utf-8"))
    assert report["baseline"]["kind"] != "none", out
    assert report["target"]["kind"] != "none", out
    target = json.loads((writing_project / ".tox/py/broker-audit/target.json").read_text(encoding="utf-8"))
    assert target["pytest"]["collected"] == 2, target["pytest"]
    # What the run's configuration says is still recorded as it is.
    assert "--junitxml=reports/junit.xml" in target["pytest"]["addopts"]
    assert tree(writing_project) == before, out
    for python in (".venv", ".tox/py"):
        env = {**os.environ, "PYTEST_ADDOPTS": shell_addopts}
        snap = run([*CLI, "snapshot", "--python", python], cwd=writing_project, env=env)
        assert json.loads(snap.stdout)["pytest"]["collected"] == 2, snap.stderr
        assert tree(writing_project) == before, (python, snap.stderr)


def test_the_real_runs_outputs_survive_the_audit(writing_project: Path) -> None:
    code, out = tox(writing_project, "--broker-audit", "-x", "testenv:py.commands=pytest")
    assert code == 0, out
    reports = writing_project / "reports"
    junit = (reports / "env-junit.xml").read_text(encoding="utf-8")
    assert re.search(r'tests="2"', junit), junit
    assert "record of the real run" in (reports / "pytest.log").read_text(encoding="utf-8")
    assert (reports / "report.html").is_file()
    assert (reports / "coverage.xml").is_file()
    saved = list((writing_project / ".benchmarks").rglob("*.json"))
    assert len(saved) == 1, saved  # the real run's autosave, none from the probes


# --------------------------------------------------------------------------- bad input under tox

SMALL_TOX = """
[tox]
env_list = py

[testenv]
package = skip
commands = python -c "print('the env command ran')"
"""


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "small", {"tox.ini": SMALL_TOX})


@pytest.mark.parametrize("how", ["environment", "user-config"])
def test_bad_fail_on_from_environment_or_user_config_is_refused(
    small: Path, tmp_path: Path, how: str
) -> None:
    extra = {"TOX_BROKER_AUDIT_FAIL_ON": "eror"}
    if how == "user-config":
        user = tmp_path / "tox-user.ini"
        user.write_text("[tox]\nbroker_audit_fail_on = eror\n")
        extra = {"TOX_USER_CONFIG_FILE": str(user)}
    code, out = tox(small, "--broker-audit", f"--broker-audit-baseline={sys.executable}", **extra)
    assert code != 0, out
    assert "the env command ran" not in out, out
    assert "Traceback" not in out
    assert "eror" in out, out
    assert "fail-on" in out, out


def test_non_utf8_environment_value_keeps_the_report(small: Path) -> None:
    import subprocess

    env = {k.encode(): v.encode() for k, v in _shell().items()}
    env[b"BAD_VALUE"] = b"caf\xe9\xff"
    cmd = [sys.executable, "-m", "tox", "--broker-audit", f"--broker-audit-baseline={sys.executable}", "-v"]
    proc = subprocess.run(cmd, cwd=small, env=env, capture_output=True, timeout=900, check=False)
    out = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, out
    assert "internal error" not in out, out
    assert "Traceback" not in out, out
    assert "BAD_VALUE" in out, out
    report = json.loads((small / ".tox/py/broker-audit/report.json").read_bytes().decode("utf-8"))
    assert any("BAD_VALUE" in f["subject"] for f in report["findings"]), report["findings"]
    (small / ".tox/py/broker-audit/report.md").read_bytes().decode("utf-8")


def test_artefact_dir_being_a_file_is_one_line_and_the_report_is_still_shown(small: Path) -> None:
    code, out = tox(small)
    assert code == 0, out
    blocker = small / ".tox" / "py" / "broker-audit"
    blocker.write_text("not a directory")
    code, out = tox(small, "--broker-audit", f"--broker-audit-baseline={sys.executable}")
    assert code == 0, out
    assert "internal error" not in out, out
    assert "Traceback" not in out, out
    assert re.search(r"cannot write artefacts to \S*\.tox/py/broker-audit: .*not a directory", out), out
    assert "the env command ran" in out, out  # the report is still shown
    assert "broker audit" in out, out
    assert blocker.read_text() == "not a directory"


def test_unbalanced_quotes_in_broker_audit_pytest_args_are_one_line(small: Path) -> None:
    ini = small / "tox.ini"
    ini.write_text(ini.read_text() + 'broker_audit_pytest_args = -k "unclosed\n')
    code, out = tox(small, "--broker-audit", f"--broker-audit-baseline={sys.executable}")
    assert code == 0, out
    assert "internal error" not in out, out
    assert "broker_audit_pytest_args ignored (No closing quotation)" in out, out
    assert (small / ".tox/py/broker-audit/report.json").is_file()
