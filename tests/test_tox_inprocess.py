"""The tox front door through tox run in this process: option handling and start-up errors.

Nothing here creates an env, so none of it needs a subprocess or a virtualenv (the fast
tier; ``tests/test_tox_plugin.py`` keeps what needs a real env, marked ``slow``). tox is
called the way its own test fixture ``tox.pytest.ToxProject.run`` calls it: ``tox.run.run``
with the arguments, in the project directory, ``SystemExit`` caught. Not that plugin
itself: it needs ``devpi-process`` and ``pytest-mock``, and once loaded its autouse
fixtures apply to every test of the session (one points pip at a dead index, which the
real-tox tests would then inherit).

A start-up error is ``HandledError``: ``tox.run.run`` logs it as one line and exits with
-2 (254 as a process's exit status).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers import write_tree
from test_tox_plugin import CONFIGS

TOX_INI = """
[tox]
env_list = py

[testenv]
package = skip
commands = python -c pass
"""

#: What ``tox.run.run`` exits with on a ``HandledError`` (a start-up error).
HANDLED = -2


@dataclasses.dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


Tox = Callable[..., Outcome]


def _restore_environ(saved: dict[str, str]) -> None:
    for key in set(os.environ) - set(saved):
        del os.environ[key]
    os.environ.update(saved)


@pytest.fixture
def tox(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], tmp_path: Path) -> Iterator[Tox]:
    """``tox(cwd, *args, **environ)``: run tox in-process in ``cwd``; exit code, stdout, stderr.

    The run sees no ``TOX_*`` variable and no tox user config of the machine's, and leaves the
    process as it found it (environment, logging)."""
    for key in list(os.environ):
        if key.startswith("TOX_") or key in ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "TF_BUILD"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("TOX_USER_CONFIG_FILE", str(tmp_path / "no-user-config.ini"))
    monkeypatch.setenv("NO_COLOR", "1")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).disabled for name in ("distlib.util", "filelock")}

    def run(cwd: Path, *args: str, **environ: str) -> Outcome:
        import tox.run

        saved = dict(os.environ)
        before = set(threading.enumerate())
        with monkeypatch.context() as patch:
            patch.chdir(cwd)
            patch.setattr(sys, "argv", [sys.executable, "-m", "tox", *args])
            for key, value in environ.items():
                patch.setenv(key, value)
            capfd.readouterr()
            code: object = None
            try:
                tox.run.run(args)
            except SystemExit as exc:
                code = exc.code
            out, err = capfd.readouterr()
        _restore_environ(saved)
        # A thread the run started (the audit's baseline) finishes before the test looks.
        for thread in set(threading.enumerate()) - before:
            thread.join(timeout=30)
        assert isinstance(code, int), f"tox did not exit with a code: {code!r}"
        return Outcome(code, out, err)

    yield run
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, disabled in quiet.items():
        logging.getLogger(name).disabled = disabled


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "proj", {"tox.ini": TOX_INI})


def _marker_python(tmp_path: Path) -> tuple[Path, Path]:
    """An "interpreter" that only records that it was started (and with which arguments)."""
    marker = tmp_path / "started"
    fake = tmp_path / "marker-python"
    fake.write_text(f'#!/bin/sh\necho "$@" >> "{marker}"\nexit 1\n')
    fake.chmod(0o755)
    return fake, marker


def _one_error_line(result: Outcome, message: str) -> None:
    assert (result.code, result.out, result.err) == (HANDLED, f"ROOT: HandledError| {message}\n", "")


# --------------------------------------------------------------------------- start-up errors

FAIL_ON_ERROR = (
    "--broker-audit: --broker-audit-fail-on='sometimes' is not one of never, error, warning "
    "(from the command line, its TOX_ environment variable or the tox user config)"
)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--broker-audit-fail-on=sometimes"], FAIL_ON_ERROR, id="fail-on"),
        pytest.param(
            ["--broker-audit-format=bogus"],
            "--broker-audit: unknown --broker-audit-format bogus "
            "(choose from azure, github, gitlab, json, markdown, sarif, terminal)",
            id="format",
        ),
        pytest.param(
            ["--broker-audit-format=json,bogus"],
            "--broker-audit: unknown --broker-audit-format bogus "
            "(choose from azure, github, gitlab, json, markdown, sarif, terminal)",
            id="format-in-a-list",
        ),
        pytest.param(
            ["--broker-audit-verify-budget=lots"],
            "--broker-audit: --broker-audit-verify-budget: bad verify budget 'lots' "
            "(expected RUNS or RUNS/SECONDS, e.g. 12/60)",
            id="verify-budget",
        ),
        pytest.param(
            ["--broker-audit-oracle=guess"],
            "--broker-audit: --broker-audit-oracle='guess' is not one of auto, tests, collection "
            "(from the command line, its TOX_ environment variable or the tox user config)",
            id="oracle",
        ),
        pytest.param(
            ["--broker-audit-oracle-tests=0"],
            "--broker-audit: --broker-audit-oracle-tests=0 is not a positive number",
            id="oracle-tests",
        ),
        pytest.param(
            ["--broker-audit-baseline=no-such-python-here"],
            "--broker-audit: Python interpreter not found: no-such-python-here",
            id="baseline-python",
        ),
        pytest.param(
            ["--broker-audit-baseline=/nonexistent"],
            "--broker-audit: /nonexistent does not exist "
            "(save references there first: --broker-audit-save=/nonexistent)",
            id="baseline-missing-path",
        ),
        pytest.param(
            ["--broker-audit-baseline=src"],
            "--broker-audit: src is neither a venv (no bin/python in it) nor a reference directory "
            "(no <env>.json snapshot in it)",
            id="baseline-neither",
        ),
    ],
)
def test_a_bad_option_value_stops_tox_at_start_up_in_one_line(
    tox: Tox, project: Path, args: list[str], message: str
) -> None:
    write_tree(project, {"src/app.py": ""})  # a directory that is neither a venv nor references
    result = tox(project, "--broker-audit", *args)
    _one_error_line(result, message)
    assert not (project / ".tox").exists(), "an env was set up before the error"


def test_a_missing_baseline_snapshot_is_rejected_with_its_path(tox: Tox, project: Path) -> None:
    result = tox(project, "--broker-audit", "--broker-audit-baseline=missing.json")
    _one_error_line(result, f"--broker-audit: snapshot file not found: {project / 'missing.json'}")
    assert not (project / ".tox").exists()


@pytest.mark.parametrize(
    "command", [[], ["run"], ["run-parallel"], ["list"], ["config"]], ids=lambda c: " ".join(c) or "legacy"
)
def test_a_bad_value_is_an_error_for_every_tox_command(tox: Tox, project: Path, command: list[str]) -> None:
    result = tox(project, *command, "--broker-audit", "--broker-audit-fail-on=sometimes")
    assert result.code == HANDLED, result
    assert f"ROOT: HandledError| {FAIL_ON_ERROR}" in result.out.splitlines()


def test_fail_on_from_the_environment_is_checked_too(tox: Tox, project: Path) -> None:
    """tox would turn a value it cannot use into the default (the gate silently off)."""
    _one_error_line(tox(project, "--broker-audit", TOX_BROKER_AUDIT_FAIL_ON="sometimes"), FAIL_ON_ERROR)


def test_fail_on_from_the_tox_user_config_is_checked_too(tox: Tox, project: Path, tmp_path: Path) -> None:
    user_config = tmp_path / "user-tox.ini"
    user_config.write_text("[tox]\nbroker_audit_fail_on = sometimes\n")
    result = tox(project, "--broker-audit", TOX_USER_CONFIG_FILE=str(user_config))
    _one_error_line(result, FAIL_ON_ERROR)


VERIFY_ERROR = (
    "--broker-audit: --broker-audit-verify='sometimes' is not one of auto, off, always "
    "(from the command line, its TOX_ environment variable or the tox user config)"
)


def test_a_verify_mode_that_is_no_choice_is_one_start_up_error(tox: Tox, project: Path) -> None:
    _one_error_line(tox(project, "list", "--broker-audit", "--broker-audit-verify=sometimes"), VERIFY_ERROR)


def test_a_bad_verify_mode_from_the_environment_is_one_start_up_error(tox: Tox, project: Path) -> None:
    """tox would turn a value that is no argparse choice into the default, with one warning
    per look-up (40+ identical lines), and run on."""
    result = tox(project, "list", "--broker-audit", TOX_BROKER_AUDIT_VERIFY="sometimes")
    _one_error_line(result, VERIFY_ERROR)


def test_a_bad_verify_mode_in_an_env_section_stops_tox_before_the_env_runs(tox: Tox, tmp_path: Path) -> None:
    project = write_tree(tmp_path / "proj", {"tox.ini": TOX_INI + "broker_audit_verify = sometimes\n"})
    result = tox(project, "--broker-audit", f"--broker-audit-baseline={sys.executable}")
    assert result.code == HANDLED, result
    message = "--broker-audit: broker_audit_verify = sometimes in env py is not one of auto, off, always"
    assert f"ROOT: HandledError| {message}" in result.out.splitlines(), result
    assert not (project / ".tox" / "py").exists(), "the env was set up before the error"
    assert tox(project, "list").code == 0  # without --broker-audit the key is not ours to judge


def test_a_bad_oracle_in_an_env_section_stops_tox_before_the_env_runs(tox: Tox, tmp_path: Path) -> None:
    project = write_tree(tmp_path / "proj", {"tox.ini": TOX_INI + "broker_audit_oracle = guess\n"})
    result = tox(project, "--broker-audit", f"--broker-audit-baseline={sys.executable}")
    assert result.code == HANDLED, result
    message = "--broker-audit: broker_audit_oracle = guess in env py is not one of auto, tests, collection"
    assert f"ROOT: HandledError| {message}" in result.out.splitlines(), result
    assert not (project / ".tox" / "py").exists(), "the env was set up before the error"


def test_an_ignore_entry_naming_no_code_stops_tox_before_the_env_runs(tox: Tox, tmp_path: Path) -> None:
    """``BA10`` for ``BA101`` silences nothing: a typo, said at once. An extension's own codes
    (another prefix) and a built-in code with a subject glob pass."""
    ini = TOX_INI + "broker_audit_ignore =\n    BA101:LC_*\n    XCL001\n    BA10, ba2O2\n"
    project = write_tree(tmp_path / "proj", {"tox.ini": ini})
    result = tox(project, "--broker-audit", f"--broker-audit-baseline={sys.executable}")
    assert result.code == HANDLED, result
    message = (
        "--broker-audit: broker_audit_ignore in env py names no finding code: BA10, BA2O2 "
        "(docs/findings.md lists them; CODE or CODE:subject-glob)"
    )
    assert f"ROOT: HandledError| {message}" in result.out.splitlines(), result
    assert not (project / ".tox" / "py").exists(), "the env was set up before the error"
    fixed = write_tree(tmp_path / "fixed", {"tox.ini": ini.replace("    BA10, ba2O2\n", "")})
    assert tox(fixed, "list", "--broker-audit", f"--broker-audit-baseline={sys.executable}").code == 0


def test_good_values_pass_the_start_up_checks(tox: Tox, project: Path) -> None:
    result = tox(
        project,
        "list",
        "--broker-audit",
        f"--broker-audit-baseline={sys.executable}",
        "--broker-audit-format=json,markdown",
        "--broker-audit-format=sarif",
        "--broker-audit-fail-on=warning",
        "--broker-audit-verify=always",
        "--broker-audit-verify-budget=3/10",
    )
    assert (result.code, result.out, result.err) == (0, "default environments:\npy -> [no description]\n", "")


# --------------------------------------------------------------------------- when the audit starts


def test_a_run_starts_the_baseline_at_once(tox: Tox, tmp_path: Path) -> None:
    """The control for the next test: the baseline starts when tox starts, before any env
    (here the only env is skipped: its interpreter does not exist)."""
    project = write_tree(
        tmp_path / "proj",
        {
            "tox.ini": "[tox]\nskip_missing_interpreters = true\n[testenv]\npackage = skip\n"
            "base_python = python0.1\ncommands = python -c pass\n"
        },
    )
    fake, marker = _marker_python(tmp_path)
    result = tox(project, "run", "-e", "py", "--broker-audit", f"--broker-audit-baseline={fake}")
    assert "py: SKIP" in result.out, result
    assert marker.read_text().split()[0] == "-S", "the baseline probe did not start"
    assert not (project / ".tox" / "py" / "bin").exists(), "a venv was created"


@pytest.mark.parametrize("command", [["config"], ["config", "-e", "py"], ["list"], ["depends"]], ids=" ".join)
def test_commands_that_run_no_env_do_not_start_the_audit(
    tox: Tox, project: Path, tmp_path: Path, command: list[str]
) -> None:
    fake, marker = _marker_python(tmp_path)
    result = tox(project, *command, "--broker-audit", f"--broker-audit-baseline={fake}")
    assert (result.code, result.err) == (0, ""), result
    assert "broker audit" not in result.out
    assert "broker-audit:" not in result.out
    assert not marker.exists(), f"tox {' '.join(command)} started the baseline probe"
    assert not (project / ".tox").exists()


# --------------------------------------------------------------------------- the config keys

ENV_KEYS = ("broker_audit_ignore", "broker_audit_oracle", "broker_audit_pytest_args", "broker_audit_verify")


@pytest.mark.parametrize("audit", [[], ["--broker-audit"]], ids=["plain", "audited"])
def test_the_env_keys_exist_with_their_defaults(tox: Tox, project: Path, audit: list[str]) -> None:
    result = tox(project, "config", "-e", "py", *audit, "-k", *ENV_KEYS, _TOX_SHOW_CONFIG_RAISE="1")
    assert (result.code, result.err) == (0, ""), result
    assert result.out.splitlines() == [
        "[testenv:py]",
        "broker_audit_ignore = ",
        "broker_audit_oracle = ",
        "broker_audit_pytest_args = ",
        "broker_audit_verify = ",
    ]


def test_the_core_key_exists_with_its_default(tox: Tox, project: Path) -> None:
    result = tox(project, "config", "--core", "-e", "py", "-k", "broker_audit_baseline")
    assert (result.code, result.err) == (0, ""), result
    assert result.out.split("[tox]\n", 1)[1] == "broker_audit_baseline = \n"


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_the_env_keys_are_read_from_every_config_format(tox: Tox, tmp_path: Path, config: str) -> None:
    """What ``test_tox_plugin.test_env_keys_work_in_every_config_format`` checks the audit
    applies (slow: it runs the env), read back from tox's own configuration."""
    project = write_tree(tmp_path / "proj", {config.split("-", maxsplit=1)[0]: CONFIGS[config]})
    result = tox(project, "config", "-e", "py", "-k", *ENV_KEYS, _TOX_SHOW_CONFIG_RAISE="1")
    assert (result.code, result.err) == (0, ""), result
    shown = result.out
    assert "broker_audit_ignore = BA101:TBA_ONLY_*\n" in shown, shown
    pytest_args = shown.split("broker_audit_pytest_args =", 1)[1].split("broker_audit_verify", 1)[0]
    assert pytest_args.split() == ["-p", "no:cacheprovider"], shown
    assert shown.endswith("broker_audit_verify = \n"), shown


CORE_BASELINE = {
    "tox.ini": "[tox]\nbroker_audit_baseline = ci/missing.json\n" + TOX_INI.replace("[tox]", ""),
    "tox.toml": """
        broker_audit_baseline = "ci/missing.json"
        env_list = ["py"]
        [env_run_base]
        package = "skip"
        commands = [["python", "-c", "pass"]]
    """,
}


@pytest.mark.parametrize("config", sorted(CORE_BASELINE))
def test_broker_audit_baseline_in_the_core_config_is_read_against_the_tox_root(
    tox: Tox, tmp_path: Path, config: str
) -> None:
    project = write_tree(tmp_path / "proj", {config: textwrap.dedent(CORE_BASELINE[config])})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shown = tox(project, "config", "--core", "-e", "py", "-k", "broker_audit_baseline")
    assert shown.out.split("[tox]\n", 1)[1] == "broker_audit_baseline = ci/missing.json\n", shown
    result = tox(elsewhere, "-c", str(project / config), "list", "--broker-audit")
    _one_error_line(result, f"--broker-audit: snapshot file not found: {project / 'ci' / 'missing.json'}")


def test_the_baseline_option_wins_over_the_core_key(tox: Tox, tmp_path: Path) -> None:
    project = write_tree(tmp_path / "proj", {"tox.ini": CORE_BASELINE["tox.ini"]})
    result = tox(project, "list", "--broker-audit", f"--broker-audit-baseline={sys.executable}")
    assert (result.code, result.err) == (0, ""), result
