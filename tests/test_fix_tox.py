"""``tox --broker-audit --broker-audit-fix=diff|apply`` with real tox: the diff shown and written
next to the report, a dirty config file refused, a re-run that still fails put back, a bad
value stopped at start-up. (The write-and-pass path runs on every failing scenario:
tests/scenarios/test_scenarios.py.)"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import install, make_venv, run_tox

HERE = Path(__file__).parent
pytestmark = pytest.mark.slow
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _project(tmp_path: Path) -> tuple[Path, Path]:
    """The UNIT_TESTS example (tox does not pass it) and a developer venv with the project in it."""
    project = tmp_path / "proj"
    shutil.copytree(HERE / "scenarios" / "unit_tests_flag" / "project", project)
    venv = make_venv(tmp_path / "venv", creator="uv")
    install(venv, "pytest", editable=project)
    return project, venv


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=a@b", "-c", "user.name=n", *args], cwd=cwd, check=True, capture_output=True
    )


def _audit(project: Path, venv: Path, mode: str) -> tuple[int, str]:
    return run_tox(
        project,
        "-e",
        "py",
        "--broker-audit",
        f"--broker-audit-baseline={venv}",
        f"--broker-audit-fix={mode}",
        UNIT_TESTS="1",
    )


@needs_git
def test_diff_shows_and_writes_the_change_and_a_dirty_file_is_never_written(tmp_path: Path) -> None:
    project, venv = _project(tmp_path)
    ini = project / "tox.ini"
    before = ini.read_bytes()

    code, out = _audit(project, venv, "diff")
    assert code != 0, out  # diff changes nothing: tox's result is its own
    assert "+pass_env = UNIT_TESTS" in out
    diff = (project / ".tox" / "py" / "broker-audit" / "fix.diff").read_text(encoding="utf-8")
    assert diff.startswith("--- a/tox.ini\n+++ b/tox.ini\n")
    assert "+pass_env = UNIT_TESTS\n" in diff
    assert ini.read_bytes() == before

    _git(project, "init", "-q")
    _git(project, "add", "tox.ini")
    _git(project, "commit", "-qm", "init")
    dirty = before + b"# an edit of the user's, not committed\n"
    ini.write_bytes(dirty)
    code, out = _audit(project, venv, "apply")
    assert code != 0, out
    assert "fix: tox.ini has uncommitted changes: not written (the diff is above and in" in out
    assert "+pass_env = UNIT_TESTS" in out
    assert ini.read_bytes() == dirty


def test_a_re_run_that_still_fails_puts_the_file_back(tmp_path: Path) -> None:
    """The tests pass with the change, but another command of the env fails: the file is put
    back byte for byte, one line says so, and tox fails with the re-run's code."""
    project, venv = _project(tmp_path)
    ini = project / "tox.ini"
    text = ini.read_text(encoding="utf-8").replace(
        "commands = pytest {posargs}",
        "commands =\n    pytest {posargs}\n    python -c 'raise SystemExit(3)'",
    )
    ini.write_text(text, encoding="utf-8")
    code, out = _audit(project, venv, "apply")
    assert "1 passed" in out  # the re-run's pytest passed
    assert "fix: py still fails with tox.ini:" in out
    assert "pass_env += UNIT_TESTS (exit 3, 1 passed): tox.ini put back as it was" in out
    assert ini.read_text(encoding="utf-8") == text
    assert code == 3, out


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--broker-audit-fix=yes",), "--broker-audit-fix='yes' is not one of off, diff, apply"),
        (("-x", "testenv.broker_audit_fix=maybe"), "broker_audit_fix = maybe in env py is not one of"),
    ],
)
def test_a_bad_fix_value_stops_tox_at_start_up(tmp_path: Path, args: tuple[str, ...], said: str) -> None:
    project = tmp_path / "proj"
    shutil.copytree(HERE / "scenarios" / "unit_tests_flag" / "project", project)
    code, out = run_tox(project, "-e", "py", "--broker-audit", *args)
    assert code != 0
    assert said in out
    assert "Traceback" not in out
    assert not (project / ".tox" / "py").exists()
