"""The verified fix (``fix/``, ``broker-audit fix``): a confirmed cause's change written into the
tox configuration, every other byte of the file kept; real git for the dirty-file refusal and a
real tox run for the loop closed (slow)."""

from __future__ import annotations

import difflib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import install, make_venv, run_tox, tox_shell
from tox_broker_audit.cli import main
from tox_broker_audit.fix import plan

HERE = Path(__file__).parent
INI = """\
# the project's tox config; comments stay
[tox]
env_list = py, integration

[testenv]
deps =
    pytest
    redis: redis  # factor-conditional
    -r requirements.txt
pass_env =
    HOME
    LANG
commands =
    pytest \\
      {posargs:tests}

[testenv:integration]
set_env = APP_MODE = integration
"""


def _finding(path: Path, line: int, action: str, subject: str, status: str = "confirmed") -> dict[str, Any]:
    return {
        "code": "BA101",
        "title": f"{subject} differs",
        "fix": f"add {subject}",
        "change": {"action": action, "subject": subject, "value": "***"},
        "location": {"path": str(path), "line": line},
        "verification": {"status": status},
        "evidence": {},
    }


def _report(*findings: dict[str, Any]) -> dict[str, Any]:
    return {"env": "py", "findings": list(findings)}


def _only_added(before: str, after: str) -> list[str]:
    """The lines ``after`` adds; fails when any line of ``before`` changed or went."""
    ops = list(difflib.ndiff(before.splitlines(keepends=True), after.splitlines(keepends=True)))
    assert not [op for op in ops if op.startswith("- ")], "a line of the user's file changed"
    return [op[2:] for op in ops if op.startswith("+ ")]


def test_a_variable_is_added_to_the_existing_pass_env_of_its_section(tmp_path: Path) -> None:
    ini = tmp_path / "tox.ini"
    ini.write_text(INI, encoding="utf-8")
    fixes = plan(_report(_finding(ini, 5, "pass_env", "UNIT_TESTS")))
    (edit,) = fixes.edits
    assert _only_added(INI, edit.after) == ["    UNIT_TESTS\n"]
    assert edit.after.index("UNIT_TESTS") < edit.after.index("commands")
    assert edit.changes == ("[testenv] pass_env += UNIT_TESTS",)


def test_a_secret_is_passed_never_written_and_deps_get_a_line(tmp_path: Path) -> None:
    ini = tmp_path / "tox.ini"
    ini.write_text(INI, encoding="utf-8")
    secret = _finding(ini, 5, "set_env", "API_TOKEN")
    secret["change"]["value"] = "s3cr3t-value"
    fixes = plan(_report(secret, _finding(ini, 5, "add_dep", "pytest-django")))
    (edit,) = fixes.edits
    assert "s3cr3t-value" not in edit.after
    assert _only_added(INI, edit.after) == ["    pytest-django\n", "    API_TOKEN\n"]


def test_a_key_the_section_lacks_is_added_to_that_section_only(tmp_path: Path) -> None:
    ini = tmp_path / "tox.ini"
    ini.write_text(INI, encoding="utf-8")
    (edit,) = plan(_report(_finding(ini, 17, "pass_env", "UNIT_TESTS"))).edits
    assert _only_added(INI, edit.after) == ["pass_env = UNIT_TESTS\n"]
    assert edit.after.rstrip().endswith("pass_env = UNIT_TESTS")


def test_a_single_line_pass_env_gets_one_more_name_on_its_line(tmp_path: Path) -> None:
    text = "[testenv]\npass_env = HOME, LANG\ncommands = pytest\n"
    ini = tmp_path / "tox.ini"
    ini.write_text(text, encoding="utf-8")
    (edit,) = plan(_report(_finding(ini, 1, "pass_env", "UNIT_TESTS"))).edits
    assert edit.after == "[testenv]\npass_env = HOME, LANG, UNIT_TESTS\ncommands = pytest\n"
    # Already there: nothing to do.
    ini.write_text(edit.after, encoding="utf-8")
    assert plan(_report(_finding(ini, 1, "pass_env", "UNIT_TESTS"))).edits == ()


def test_toml_keeps_its_comments_and_appends_to_the_array(tmp_path: Path) -> None:
    text = (
        "# tox.toml\n"
        'env_list = ["py"]\n\n'
        "[env_run_base]\n"
        'deps = ["pytest"]  # the test runner\n'
        'pass_env = ["HOME"]\n'
        'commands = [["pytest", { replace = "posargs", extend = true }]]\n'
    )
    toml = tmp_path / "tox.toml"
    toml.write_text(text, encoding="utf-8")
    (edit,) = plan(_report(_finding(toml, 4, "pass_env", "UNIT_TESTS"))).edits
    assert 'pass_env = ["HOME", "UNIT_TESTS"]\n' in edit.after
    assert edit.after.replace('pass_env = ["HOME", "UNIT_TESTS"]', 'pass_env = ["HOME"]') == text


def test_only_confirmed_config_changes_are_planned(tmp_path: Path) -> None:
    ini = tmp_path / "tox.ini"
    ini.write_text(INI, encoding="utf-8")
    code_only = {
        "code": "BA407",
        "fix": "open config/broker.json relative to the module",
        "verification": {"status": "confirmed"},
    }
    unconfirmed = _finding(ini, 5, "pass_env", "MAYBE", status="untested")
    fixes = plan(_report(code_only, unconfirmed))
    assert fixes.edits == ()
    assert fixes.suggestions == ("open config/broker.json relative to the module",)


def test_the_parts_of_a_combination_are_applied_together(tmp_path: Path) -> None:
    ini = tmp_path / "tox.ini"
    ini.write_text(INI, encoding="utf-8")
    parts = [
        {"action": "pass_env", "subject": name, "location": {"path": str(ini), "line": 5}}
        for name in ("ALLOWED_HOST", "SECRET_KEY")
    ]
    combination = {
        "code": "BA701",
        "fix": "…",
        "verification": {"status": "confirmed"},
        "evidence": {"changes": parts},
    }
    (edit,) = plan(_report(combination)).edits
    assert _only_added(INI, edit.after) == ["    ALLOWED_HOST\n", "    SECRET_KEY\n"]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_cli_prints_applies_and_refuses_a_dirty_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = tmp_path / "tox.ini"
    ini.write_text(INI, encoding="utf-8")
    report = tmp_path / "hand-made.json"  # not a whole report.json (the suite checks those)
    report.write_text(json.dumps(_report(_finding(ini, 5, "pass_env", "UNIT_TESTS"))), encoding="utf-8")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "tox.ini")
    _git(tmp_path, "-c", "user.email=a@b", "-c", "user.name=n", "commit", "-qm", "init")
    monkeypatch.chdir(tmp_path)

    assert main(["fix", str(report)]) == 0
    assert "+    UNIT_TESTS" in capsys.readouterr().out
    assert ini.read_text(encoding="utf-8") == INI  # printing writes nothing

    ini.write_text(INI + "# an edit of the user's, not committed\n", encoding="utf-8")
    assert main(["fix", str(report), "--apply"]) == 1
    assert "tox.ini has uncommitted changes: not written" in capsys.readouterr().out
    assert ini.read_text(encoding="utf-8").endswith("not committed\n")

    ini.write_text(INI, encoding="utf-8")
    assert main(["fix", str(report), "--apply"]) == 0
    assert "wrote tox.ini: [testenv] pass_env += UNIT_TESTS" in capsys.readouterr().out
    assert _only_added(INI, ini.read_text(encoding="utf-8")) == ["    UNIT_TESTS\n"]

    report.write_text("{not json", encoding="utf-8")
    assert main(["fix", str(report)]) == 2


@pytest.mark.slow
def test_the_loop_closed_with_real_tox(tmp_path: Path) -> None:
    """tox fails, the audit confirms UNIT_TESTS by the tests, ``broker-audit fix --apply``
    writes only that line, and plain tox passes."""
    project = tmp_path / "proj"
    shutil.copytree(HERE / "scenarios" / "unit_tests_flag" / "project", project)
    before = (project / "tox.ini").read_text(encoding="utf-8")
    venv = make_venv(tmp_path / "venv", creator="uv")  # the developer's venv, the project in it
    install(venv, "pytest", editable=project)
    shell = {"UNIT_TESTS": "1"}
    code, out = run_tox(project, "-e", "py", "--broker-audit", f"--broker-audit-baseline={venv}", **shell)
    assert code != 0, out
    report = project / ".tox" / "py" / "broker-audit" / "report.json"
    top = json.loads(report.read_text(encoding="utf-8"))["findings"][0]
    assert (top["code"], top["subject"], top["verification"]["status"]) == (
        "BA101",
        "UNIT_TESTS",
        "confirmed",
    )
    fixed = subprocess.run(
        [sys.executable, "-m", "tox_broker_audit", "fix", str(report), "--apply"],
        cwd=project,
        env=tox_shell(**shell),
        capture_output=True,
        text=True,
        check=False,
    )
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert _only_added(before, (project / "tox.ini").read_text(encoding="utf-8")) == [
        "pass_env = UNIT_TESTS\n"
    ]
    code, out = run_tox(project, "-e", "py", **shell)
    assert code == 0, out
