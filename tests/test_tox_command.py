"""Finding the pytest invocation in tox ``commands`` and baseline/section resolution (pure parts)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from _snapshot_factory import make_snapshot
from helpers import write_tree
from tox_broker_audit._command import (
    collection_args,
    find_pytest_command,
    parse_pytest_command,
    python_flags,
    selection_args,
    split_args,
)
from tox_broker_audit._errors import AuditError, ProbeError
from tox_broker_audit._outputs import choose_formats as _formats
from tox_broker_audit._tox.facts import _env_names, _package_mode, find_env_section
from tox_broker_audit.snapshot.baseline import ReferenceDirBaseline, is_tox_env, plan_baseline
from tox_broker_audit.snapshot.capture import resolve_python
from tox_broker_audit.snapshot.reference import save_reference


@pytest.mark.parametrize(
    ("argv", "invocation", "args"),
    [
        (["pytest"], "pytest", ()),
        (["pytest", "tests", "-x"], "pytest", ("tests", "-x")),
        (["/t/.tox/py/bin/pytest", "-q"], "pytest", ("-q",)),
        (["py.test", "a"], "pytest", ("a",)),
        (["python", "-m", "pytest", "tests"], "python-m", ("tests",)),
        (["/t/.tox/py/bin/python", "-mpytest"], "python-m", ()),
        (["python3.12", "-X", "dev", "-W", "error", "-m", "pytest", "-k", "x"], "python-m", ("-k", "x")),
        (["python", "-Im", "pytest"], "python-m", ()),
        (["python", "-Wd", "-m", "pytest"], "python-m", ()),
        (["coverage", "run", "-m", "pytest", "t"], "python-m", ("t",)),
        (["coverage", "run", "--source", "app", "--branch", "-m", "pytest"], "python-m", ()),
        (["python", "-m", "coverage", "run", "-p", "-m", "pytest", "-q"], "python-m", ("-q",)),
    ],
)
def test_pytest_invocations_are_recognised(argv: list[str], invocation: str, args: tuple[str, ...]) -> None:
    found = parse_pytest_command(argv)
    assert found is not None
    assert (found.invocation, found.args, found.command) == (invocation, args, tuple(argv))


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["python", "-c", "import pytest"],
        ["python", "script.py", "-m", "pytest"],
        ["python", "-m", "mypy"],
        ["coverage", "report"],
        ["coverage", "run", "script.py"],
        ["ruff", "check"],
        ["pytest-watch"],
    ],
)
def test_other_commands_are_not_pytest(argv: list[str]) -> None:
    assert parse_pytest_command(argv) is None


def test_the_first_pytest_command_wins() -> None:
    found = find_pytest_command([["pip", "list"], ["python", "-m", "pytest", "a"], ["pytest", "b"]])
    assert found is not None
    assert found.args == ("a",)
    assert find_pytest_command([["make", "test"]]) is None


def test_console_script_keeps_its_path() -> None:
    found = parse_pytest_command(["{envbindir}/pytest"])
    assert found is not None
    assert found.script == "{envbindir}/pytest"
    module = parse_pytest_command(["python", "-m", "pytest"])
    assert module is not None
    assert module.script is None


@pytest.mark.parametrize(
    ("args", "kept"),
    [
        (["-n", "4", "tests"], ("tests",)),
        (["-nauto", "--dist=loadfile", "tests"], ("tests",)),
        (["--numprocesses", "2", "-x"], ("-x",)),
        (["--cov", "app", "--cov-report=xml", "--cov-append", "-q"], ("-q",)),
        (["--cov", "-q"], ("-q",)),
        (["--junitxml", "out.xml", "-p", "no:warnings"], ("-p", "no:warnings")),
        (["-k", "a or b", "--", "-n"], ("-k", "a or b", "--", "-n")),
    ],
)
def test_collection_args_drop_run_only_options(args: list[str], kept: tuple[str, ...]) -> None:
    assert collection_args(args) == kept


def test_pytest_args_key_entries_are_split_like_a_shell() -> None:
    assert split_args(["-p no:cacheprovider tests", "-k 'a or b'"]) == (
        "-p",
        "no:cacheprovider",
        "tests",
        "-k",
        "a or b",
    )


def test_formats_default_and_ci() -> None:
    assert _formats([], {}) == ("terminal",)
    assert _formats(["json,markdown", "json"], {}) == ("json", "markdown")
    assert _formats([], {"GITHUB_ACTIONS": "true"}) == ("terminal", "github")
    assert _formats(["github"], {"GITHUB_ACTIONS": "true", "GITLAB_CI": "true"}) == ("github", "gitlab")


def test_package_mode_prefers_what_was_installed() -> None:
    assert _package_mode("sdist", []) == "sdist"
    assert _package_mode("sdist", ["SdistPackage"]) == "sdist"
    assert _package_mode("wheel", ["WheelPackage"]) == "wheel"
    assert _package_mode("editable", ["EditablePackage"]) == "editable"
    assert _package_mode("uv-editable", []) == "editable"
    assert _package_mode("skip", []) == "skip"
    assert _package_mode(None, []) is None


def test_env_names_of_section_headers() -> None:
    assert _env_names("py311,py312") == {"py311", "py312"}
    assert _env_names("py3{11,12}-django") == {"py311-django", "py312-django"}
    # Several factor groups and ranges, as tox expands them (a fix must land in the env's own
    # section, not in [testenv]).
    assert _env_names("py3{11,12}-django{4,5}") == {
        "py311-django4",
        "py311-django5",
        "py312-django4",
        "py312-django5",
    }
    assert _env_names("py3{10-12}") == {"py310", "py311", "py312"}


def test_the_own_section_of_a_multi_factor_env(tmp_path: Path) -> None:
    ini = tmp_path / "tox.ini"
    ini.write_text("[testenv]\ndeps = pytest\n\n[testenv:py3{11,12}-django{4,5}]\ndeps = django\n")
    assert find_env_section(ini, "py312-django5") == ("testenv:py3{11,12}-django{4,5}", 4)
    assert find_env_section(ini, "py313-django5") == ("testenv", 1)


@pytest.mark.parametrize(
    ("file_name", "text", "env", "expected"),
    [
        ("tox.ini", "[tox]\nenv_list = py\n\n[testenv]\ndeps = pytest\n", "py", ("testenv", 4)),
        ("tox.ini", "[testenv]\nx = 1\n[testenv:lint]\n[testenv:py312]\n", "py312", ("testenv:py312", 4)),
        ("tox.ini", "[tox]\n", "py", (None, None)),
        ("setup.cfg", "[metadata]\nname = x\n[tox:tox]\n[testenv]\n", "py", ("testenv", 4)),
        ("pyproject.toml", '[tool.tox]\nlegacy_tox_ini = """\n[testenv]\n"""\n', "py", ("testenv", 3)),
        (
            "pyproject.toml",
            "[project]\n[tool.tox.env_run_base]\n[tool.tox.env.lint]\n",
            "py",
            ("tool.tox.env_run_base", 2),
        ),
        ("tox.toml", 'env_list = ["py"]\n[env_run_base]\n[env.py]\ndeps = []\n', "py", ("env.py", 3)),
        ("tox.toml", '[env_run_base]\n[env."py3.12"]\n', "py3.12", ('env."py3.12"', 2)),
    ],
)
def test_env_section_of_each_config_format(
    tmp_path: Path, file_name: str, text: str, env: str, expected: tuple[str | None, int | None]
) -> None:
    config = tmp_path / file_name
    config.write_text(text)
    assert find_env_section(config, env) == expected


# --------------------------------------------------------------------------- baseline resolution


def _venv(path: Path) -> Path:
    (path / "bin").mkdir(parents=True)
    python = path / "bin" / "python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    return python


def test_auto_prefers_the_active_venv(tmp_path: Path) -> None:
    active = _venv(tmp_path / "elsewhere")
    _venv(tmp_path / "proj" / ".venv")
    environ = {"VIRTUAL_ENV": str(tmp_path / "elsewhere"), "PATH": ""}
    plan = plan_baseline(
        "auto", tox_root=tmp_path / "proj", work_dir=tmp_path / "proj" / ".tox", environ=environ
    )
    assert plan.python == str(active)
    assert plan.found_by.startswith("$VIRTUAL_ENV")


def test_auto_never_picks_a_tox_env(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _venv(root / ".tox" / "py")
    local = _venv(root / ".venv")
    environ = {"VIRTUAL_ENV": str(root / ".tox" / "py"), "PATH": str(root / ".tox" / "py" / "bin")}
    plan = plan_baseline("auto", tox_root=root, work_dir=root / ".tox", environ=environ)
    assert plan.python == str(local)
    assert plan.found_by.startswith(".venv in the project")


def test_a_tox_env_elsewhere_is_recognised_by_its_info_file(tmp_path: Path) -> None:
    other = tmp_path / "other-project" / ".tox" / "py"
    _venv(other)
    (other / ".tox-info.json").write_text("{}")
    assert is_tox_env(other, tmp_path / "proj" / ".tox")
    assert not is_tox_env(tmp_path / "other-project", tmp_path / "proj" / ".tox")


def test_auto_falls_back_to_python3_on_path(tmp_path: Path) -> None:
    bin_dir = tmp_path / "usr" / "bin"
    bin_dir.mkdir(parents=True)
    python3 = bin_dir / "python3"
    python3.write_text("#!/bin/sh\n")
    python3.chmod(0o755)
    root = tmp_path / "proj"
    root.mkdir()
    plan = plan_baseline("auto", tox_root=root, work_dir=root / ".tox", environ={"PATH": str(bin_dir)})
    assert plan.python == str(python3)


def test_auto_with_nothing_found_is_a_probe_error(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match="no local environment found"):
        plan_baseline("auto", tox_root=tmp_path, work_dir=tmp_path / ".tox", environ={"PATH": str(tmp_path)})


def test_explicit_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    python = _venv(tmp_path / "venv")
    assert plan_baseline("venv", tox_root=tmp_path, work_dir=tmp_path, environ={}).python == str(python)
    assert plan_baseline(str(python), tox_root=tmp_path, work_dir=tmp_path, environ={}).python == str(python)
    snapshot = tmp_path / "base.json"
    snapshot.write_text("{}")
    assert plan_baseline("base.json", tox_root=tmp_path, work_dir=tmp_path, environ={}).path == snapshot
    with pytest.raises(AuditError, match="snapshot file not found"):
        plan_baseline("missing.json", tox_root=tmp_path, work_dir=tmp_path, environ={})
    with pytest.raises(AuditError, match="not found"):
        plan_baseline(f"no-such-python-{os.getpid()}", tox_root=tmp_path, work_dir=tmp_path, environ={})


@pytest.mark.parametrize(
    ("argv", "flags"),
    [
        (["python", "-m", "pytest"], ()),
        (["python", "-W", "error", "-X", "dev", "-m", "pytest", "-q"], ("-Werror", "-Xdev")),
        (["python", "-Wall", "-OO", "-b", "-I", "-m", "pytest"], ("-Wall", "-OO", "-b", "-I")),
        (["python3", "-BEsm", "pytest"], ("-BEs",)),
        (["python", "-u", "-m", "coverage", "run", "-m", "pytest"], ("-u",)),
        (["pytest", "-W", "error"], ()),  # pytest's own -W, not the interpreter's
    ],
)
def test_interpreter_flags_of_the_command_are_kept(argv: list[str], flags: tuple[str, ...]) -> None:
    found = parse_pytest_command(argv)
    assert found is not None
    assert found.python_flags == flags


def test_a_wrapper_script_is_not_a_pytest_command() -> None:
    assert python_flags(["-Wall", "pytest-gevent.py", "-x"]) == ("-Wall",)
    assert parse_pytest_command(["python", "-Wall", "pytest-gevent.py", "-x"]) is None


def test_selection_args_keep_what_chooses_tests(tmp_path: Path) -> None:
    (tmp_path / "tests" / "unit").mkdir(parents=True)
    (tmp_path / "tests" / "unit" / "test_a.py").write_text("")
    args = [
        "-q",
        "tests/unit",
        "-k",
        "not slow",
        "-mdb",
        "--deselect=tests/unit/test_a.py::test_x",
        "-p",
        "no:cacheprovider",
        "--basetemp",
        "no-such-dir",  # an option value is not a test path
        "tests/unit/test_a.py::test_y",
        "no-such-dir",
    ]
    unit = str(tmp_path / "tests" / "unit")
    assert selection_args(args, str(tmp_path)) == (
        unit,
        "-k",
        "not slow",
        "-m",
        "db",
        "--deselect",
        f"{unit}/test_a.py::test_x",
        f"{unit}/test_a.py::test_y",
    )
    assert selection_args(["-x", "--tb=short"], str(tmp_path)) == ()


def test_explicit_paths_that_fit_nothing_are_bad_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A baseline path that does not exist, or a directory that is neither a venv nor holds
    references, is a bad option value (one line), not an empty reference the audit runs with."""
    monkeypatch.chdir(tmp_path)
    plan = functools.partial(plan_baseline, tox_root=tmp_path, work_dir=tmp_path / ".tox", environ={})
    with pytest.raises(AuditError, match=r"^/nonexistent-baseline does not exist \(save references there"):
        plan("/nonexistent-baseline")
    write_tree(tmp_path, {"src/app.py": "", "empty/.keep": ""})
    (tmp_path / "empty" / ".keep").unlink()
    with pytest.raises(AuditError, match=r"^src is neither a venv \(no bin/python in it\) nor a reference"):
        plan("src")
    assert isinstance(plan("empty"), ReferenceDirBaseline)  # nothing saved yet: one line per env
    save_reference(make_snapshot(source_kind="tox-env"), tmp_path / "refs", "py")
    (tmp_path / "refs" / "README").write_text("committed references\n")
    assert isinstance(plan("refs"), ReferenceDirBaseline)
    # In the config a reference directory may not exist yet (before the first save).
    assert isinstance(plan("ci/broker-audit", base=tmp_path), ReferenceDirBaseline)
    with pytest.raises(AuditError, match=r"^cannot use /x+/python: File name too long$"):
        plan("/" + "x" * 5000 + "/python")


def test_a_path_the_interpreter_lookup_cannot_stat_is_one_line() -> None:
    """``os.stat`` errors other than "not there" (EACCES for another user's venv, ENAMETOOLONG)
    are a one-line ProbeError, never a traceback from pathlib."""
    with pytest.raises(ProbeError, match=r"as the Python interpreter: File name too long$"):
        resolve_python("/" + "y" * 5000)
