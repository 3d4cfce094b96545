"""The verified fix (``fix/``, ``broker-audit fix``): a confirmed cause's change written into the
tox configuration, every other byte of the file kept; real git for the dirty-file refusal and a
real tox run for the loop closed (slow)."""

from __future__ import annotations

import dataclasses
import difflib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from _schemas import validate_sarif
from helpers import install, make_venv, run_tox, tox_shell
from tox_broker_audit.cli import main
from tox_broker_audit.diagnosis.model import Finding, Fix, Location, Report, Verification
from tox_broker_audit.fix import plan, with_edits
from tox_broker_audit.fix._nox import session_line, with_lines
from tox_broker_audit.renderers import render
from tox_broker_audit.renderers.json import report_to_dict

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


@pytest.mark.parametrize(
    ("before", "action", "after"),
    [
        pytest.param(  # dramatiq's own tox.ini: no space before "=", two-space continuation lines
            "[testenv]\npassenv=\n  TRAVIS\ncommands=\n  pytest\n",
            "pass_env",
            "[testenv]\npassenv=\n  TRAVIS\n  UNIT_TESTS\ncommands=\n  pytest\n",
            id="tight-key-two-space-indent",
        ),
        pytest.param(  # tox strips the comment: the name goes before it
            "[testenv]\npass_env = HOME, LANG  # for the locale\n",
            "pass_env",
            "[testenv]\npass_env = HOME, LANG, UNIT_TESTS  # for the locale\n",
            id="inline-comment",
        ),
        pytest.param(  # a one-line deps gets a continuation line; its own line stays
            "[testenv]\ndeps = pytest\ncommands = pytest\n",
            "add_dep",
            "[testenv]\ndeps = pytest\n    UNIT_TESTS\ncommands = pytest\n",
            id="one-line-deps",
        ),
        pytest.param(  # a new key after the section's last key, not after its blank lines
            "[testenv]\ncommands = pytest\n# end of testenv\n\n[testenv:lint]\ncommands = ruff\n",
            "pass_env",
            "[testenv]\ncommands = pytest\npass_env = UNIT_TESTS\n# end of testenv\n\n[testenv:lint]\n"
            "commands = ruff\n",
            id="new-key-before-trailing-comment",
        ),
        pytest.param(  # the last line of the file has no line end
            "[testenv]\npass_env =\n\tHOME",
            "pass_env",
            "[testenv]\npass_env =\n\tHOME\n\tUNIT_TESTS\n",
            id="no-final-newline-tab-indent",
        ),
        pytest.param(  # the entry on the key's own line goes, the key and the others stay
            "[testenv]\nsetenv = UNIT_TESTS = 0\n    LANG = C\n",
            "override_env",
            "[testenv]\nsetenv =\n    LANG = C\npass_env = UNIT_TESTS\n",
            id="set-env-first-line",
        ),
    ],
)
def test_only_the_lines_that_change_change(tmp_path: Path, before: str, action: str, after: str) -> None:
    ini = tmp_path / "tox.ini"
    ini.write_bytes(before.encode())
    (edit,) = plan(_report(_finding(ini, 1, action, "UNIT_TESTS"))).edits
    assert edit.after == after


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


# --------------------------------------------------------------------------- edits in the report


def _confirmed_finding(ini: Path, line: int, action: str, subject: str) -> Finding:
    return Finding(
        code="BA101",
        slug="env-stripped",
        severity="error",
        title=f"{subject} is not passed",
        subject=subject,
        detail="",
        fix=f"pass_env = {subject}",
        location=Location(str(ini), line),
        change=Fix(action, subject),  # type: ignore[arg-type]
        verification=Verification("confirmed", f"{subject} passed", oracle="tests"),
    )


def test_the_report_carries_each_confirmed_change_as_whole_line_hunks(tmp_path: Path) -> None:
    ini = tmp_path / "tox.ini"
    text = "[tox]\r\nenv_list = py\r\n\r\n[testenv]\r\ndeps = pytest\r\ncommands = pytest {posargs}\r\n"
    ini.write_bytes(text.encode())
    confirmed = _confirmed_finding(ini, 4, "pass_env", "UNIT_TESTS")
    untested = dataclasses.replace(
        _confirmed_finding(ini, 4, "pass_env", "OTHER"), verification=Verification("untested", "")
    )
    report = with_edits(Report(env="py", baseline=None, target=None, findings=(confirmed, untested)))
    (edit,) = report.findings[0].edits
    # An insertion carries the line above it; the file's CRLF line endings are kept.
    assert (edit.line, edit.end_line) == (6, 6)
    assert edit.before == "commands = pytest {posargs}\r\n"
    assert edit.after == "commands = pytest {posargs}\r\npass_env = UNIT_TESTS\r\n"
    assert report.findings[1].edits == ()
    data = report_to_dict(report)["findings"][0]["edits"]
    assert data == [dataclasses.asdict(edit)]


def test_a_replaced_line_is_one_hunk_and_an_unparsable_file_gives_no_edit(tmp_path: Path) -> None:
    ini = tmp_path / "tox.ini"
    ini.write_text("[testenv]\npass_env = HOME\ncommands = pytest\n", encoding="utf-8")
    finding = _confirmed_finding(ini, 1, "pass_env", "UNIT_TESTS")
    (edit,) = with_edits(Report("py", None, None, (finding,))).findings[0].edits
    assert (edit.line, edit.end_line, edit.before, edit.after) == (
        2,
        2,
        "pass_env = HOME\n",
        "pass_env = HOME, UNIT_TESTS\n",
    )
    ini.write_text("[testenv]\npass_env = A\npass_env = B\n", encoding="utf-8")  # a duplicate key
    assert with_edits(Report("py", None, None, (finding,))).findings[0].edits == ()
    ini.unlink()
    assert with_edits(Report("py", None, None, (finding,))).findings[0].edits == ()


def test_sarif_offers_the_change_as_a_fix_that_validates(tmp_path: Path) -> None:
    ini = tmp_path / "tox.ini"
    ini.write_text("[testenv]\ndeps =\n    pytest\ncommands = pytest\n", encoding="utf-8")
    finding = _confirmed_finding(ini, 1, "add_dep", "redis")
    report = with_edits(Report("py", None, None, (finding,)))
    log = json.loads(render(report, "sarif", color=False, root=str(tmp_path), config_file=str(ini)))
    validate_sarif(log)
    (fix,) = log["runs"][0]["results"][0]["fixes"]
    (change,) = fix["artifactChanges"]
    assert change["artifactLocation"] == {"uri": "tox.ini", "uriBaseId": "%SRCROOT%"}
    (replacement,) = change["replacements"]
    # Lines 3..3 (without the last newline, SARIF's region end) become two lines.
    assert replacement == {
        "deletedRegion": {"startLine": 3, "endLine": 3},
        "insertedContent": {"text": "    pytest\n    redis"},
    }
    assert fix["description"]["text"] == "pass_env = redis"


def test_an_override_is_taken_out_of_set_env_and_a_glob_already_passes_it(tmp_path: Path) -> None:
    """tox's set_env wins over pass_env: the fix of BA103 removes the override (the value is
    never written), and adds nothing to a pass_env whose glob already matches."""
    text = (
        "[testenv]\n"
        "passenv = PAYMENTS_*  # the old spelling\n"
        "setenv =\n"
        "  LANG = C\n"
        "  PAYMENTS_BROKER_URL = amqp://user:pw@broker/\n"
        "  py: DEBUG = 1\n"
        "commands = pytest\n"
    )
    ini = tmp_path / "tox.ini"
    ini.write_text(text, encoding="utf-8")
    (edit,) = plan(_report(_finding(ini, 1, "override_env", "PAYMENTS_BROKER_URL"))).edits
    assert edit.after == text.replace("  PAYMENTS_BROKER_URL = amqp://user:pw@broker/\n", "")
    assert edit.changes == ("[testenv] setenv -= PAYMENTS_BROKER_URL",)


def test_an_override_in_toml_leaves_the_table_and_a_name_is_passed(tmp_path: Path) -> None:
    text = (
        "[env_run_base]\n"
        'deps = ["pytest"]\n'
        'set_env = { PAYMENTS_BROKER_URL = "amqp://x" }\n'
        'commands = [["pytest"]]\n'
    )
    toml = tmp_path / "tox.toml"
    toml.write_text(text, encoding="utf-8")
    (edit,) = plan(_report(_finding(toml, 1, "override_env", "PAYMENTS_BROKER_URL"))).edits
    assert edit.after == (
        '[env_run_base]\ndeps = ["pytest"]\ncommands = [["pytest"]]\npass_env = ["PAYMENTS_BROKER_URL"]\n'
    )
    assert "amqp://x" not in edit.after


def test_a_variable_set_only_under_tox_is_taken_out_of_set_env(tmp_path: Path) -> None:
    """``unset_env`` (BA102: tox's set_env chose another settings module): the entry goes, its
    comment and the rest stay; in TOML the key goes when nothing is left in it."""
    text = (
        "[testenv]\n"
        "set_env =\n"
        "    # the CI settings (sqlite, eager Celery)\n"
        "    DJANGO_SETTINGS_MODULE = tests.settings\n"
        "    LANG = C\n"
        "commands = pytest\n"
    )
    ini = tmp_path / "tox.ini"
    ini.write_text(text, encoding="utf-8")
    (edit,) = plan(_report(_finding(ini, 1, "unset_env", "DJANGO_SETTINGS_MODULE"))).edits
    assert edit.after == text.replace("    DJANGO_SETTINGS_MODULE = tests.settings\n", "")
    assert edit.changes == ("[testenv] set_env -= DJANGO_SETTINGS_MODULE",)

    toml = tmp_path / "tox.toml"
    toml.write_text(
        '[env_run_base]\nset_env = { DJANGO_SETTINGS_MODULE = "tests.settings" }\ncommands = [["pytest"]]\n',
        encoding="utf-8",
    )
    (edit,) = plan(_report(_finding(toml, 1, "unset_env", "DJANGO_SETTINGS_MODULE"))).edits
    assert edit.after == '[env_run_base]\ncommands = [["pytest"]]\n'


LEGACY = """\
[project]
name = "reports"  # the rest of pyproject.toml stays byte for byte

[tool.tox]
legacy_tox_ini = {q}
[tox]
env_list = py

[testenv]
deps = pytest
pass_env =
    HOME
commands = pytest {{posargs}}
{q}
"""


@pytest.mark.parametrize("quote", ['"""', "'''"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_the_tox_ini_a_pyproject_embeds_is_edited_in_place(tmp_path: Path, quote: str, newline: str) -> None:
    """``[tool.tox] legacy_tox_ini``: the embedded tox.ini is edited as one, inside its string;
    the finding's line is pyproject.toml's."""
    text = LEGACY.format(q=quote).replace("\n", newline)
    toml = tmp_path / "pyproject.toml"
    toml.write_bytes(text.encode())
    dep, var = _finding(toml, 9, "add_dep", "pytest-env"), _finding(toml, 9, "pass_env", "UNIT_TESTS")
    fixes = plan(_report(dep, var))
    (edit,) = fixes.edits
    assert edit.changes == ("[testenv] deps += pytest-env", "[testenv] pass_env += UNIT_TESTS")
    nl = newline
    expected = text.replace(f"deps = pytest{nl}", f"deps = pytest{nl}    pytest-env{nl}")
    expected = expected.replace(f"    HOME{newline}", f"    HOME{newline}    UNIT_TESTS{newline}")
    assert edit.after == expected
    import tomllib

    assert "pytest-env" in tomllib.loads(edit.after)["tool"]["tox"]["legacy_tox_ini"]


def test_an_embedded_tox_ini_written_with_escapes_is_not_edited(tmp_path: Path) -> None:
    """A basic string with an escape does not stand in the file as tox reads it: no edit (the
    finding's fix still says what to do), rather than a guess."""
    text = LEGACY.format(q='"""').replace("env_list = py", "env_list = py  \\t")
    toml = tmp_path / "pyproject.toml"
    toml.write_text(text, encoding="utf-8")
    assert plan(_report(_finding(toml, 9, "add_dep", "pytest-env"))).edits == ()


def test_the_nox_lines_go_to_the_top_of_the_session_body() -> None:
    text = (
        "import nox\n\n\n"
        "@nox.session\n"
        "@nox.parametrize('x', [1])\n"
        "def tests(session, x):\n"
        '    """Docs."""\n'
        "    session.install('.')\n"
    )
    lines = [session_line("set_env", "UNIT_TESTS", "1"), session_line("add_dep", "redis", "")]
    assert lines == ['session.env["UNIT_TESTS"] = "1"', 'session.install("redis")']
    after = with_lines(text, 4, [line for line in lines if line])
    assert after == text.replace(
        '"""Docs."""\n', '"""Docs."""\n    session.env["UNIT_TESTS"] = "1"\n    session.install("redis")\n'
    )
    # A secret's value is never written; an unknown function or broken noxfile gives nothing.
    assert session_line("set_env", "API_TOKEN", "abc") is None
    assert with_lines(text, 99, ['session.install("redis")']) is None
    assert with_lines("def (:\n", 1, ['session.install("redis")']) is None
