"""Acceptance: pairs of real venvs that differ in exactly one cause each.

Each case builds a small project and two real environments (the baseline like a developer's
``uv venv``, the target like tox's ``virtualenv`` with its seeded pip/setuptools/wheel and
``_virtualenv.pth``), takes real snapshots with the probe (real pytest collection), and
checks that the top finding has the expected code and subject, that tox's noise does not
outrank it, and that the terminal report fits on one screen with the cause on its first line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from _schemas import validate_report
from helpers import make_venv, write_tree
from tox_broker_audit.diagnosis.engine import diagnose
from tox_broker_audit.diagnosis.model import Report, ToxFacts
from tox_broker_audit.renderers import render, report_to_dict
from tox_broker_audit.snapshot.capture import ProbeRequest, take_snapshot
from tox_broker_audit.snapshot.model import Snapshot

pytestmark = pytest.mark.slow

KEY = b"p" * 32
TEST_PYTHON = sys.executable

PROJECT = {
    "conftest.py": "",
    "pytest.ini": "[pytest]\ntestpaths = tests\n",
    "app/__init__.py": "",
    "app/broker.py": """
        import os

        TESTING = os.getenv("UNIT_TESTS") == "1"
    """,
    "app/tasks.py": """
        from app import broker

        def send():
            return broker.TESTING
    """,
    "tests/test_tasks.py": """
        from app import tasks

        def test_send():
            assert tasks.send() in (True, False)
    """,
}


def _site_packages(python: Path) -> Path:
    venv = python.parent.parent
    return next((venv / "lib").glob("python3*/site-packages"))


def _install_pytest(python: Path) -> None:
    # uv's cache makes this fast; pytest is the only requirement of the probe's collection run.
    from helpers import install

    install(python, "pytest")


@pytest.fixture(scope="module")
def venvs(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """``venvs(name, creator)``: a fresh venv with pytest, made once per name."""
    made: dict[str, Path] = {}
    root = tmp_path_factory.mktemp("venvs")

    def get(name: str, creator: str) -> Path:
        if name not in made:
            python = make_venv(root / name, creator=creator, python=TEST_PYTHON)
            _install_pytest(python)
            made[name] = python
        return made[name]

    return get


def _env(python: Path, extra: Mapping[str, str], *, tox: bool) -> dict[str, str]:
    env = {
        "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "VIRTUAL_ENV": str(python.parent.parent),
    }
    if tox:  # what tox adds (docs/tox.md)
        env.update(
            {
                "TOX_ENV_NAME": "py",
                "TOX_ENV_DIR": str(python.parent.parent),
                "TOX_WORK_DIR": str(python.parent.parent.parent),
                "PYTHONHASHSEED": "1234",
                "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "PIP_USER": "0",
                "PYTHONIOENCODING": "utf-8",
            }
        )
    else:  # a developer's shell
        env.update({"EDITOR": "vim", "PYTHONDONTWRITEBYTECODE": "1", "LC_CTYPE": "C.UTF-8", "SHLVL": "2"})
    env.update(extra)
    return env


def snap(
    python: Path,
    project: Path,
    *,
    tox: bool,
    env: Mapping[str, str] | None = None,
    invocation: str = "pytest",
    args: tuple[str, ...] = (),
) -> Snapshot:
    return take_snapshot(
        ProbeRequest(
            python=str(python),
            cwd=project,
            env=_env(python, env or {}, tox=tox),
            invocation=invocation,  # type: ignore[arg-type]
            pytest_args=args,
            key=KEY,
            brokers=False,
            timeout=120,
        )
    )


def check(report: Report, code: str, subject: str) -> None:
    validate_report(report_to_dict(report))  # real snapshots, real diagnosis: the shipped schema holds
    text = render(report, "terminal", color=False)
    top = report.findings[0]
    assert (top.code, top.subject) == (code, subject), text + render(
        report, "terminal", verbose=True, color=False
    )
    assert top.severity in ("error", "warning")
    assert top.group == "cause"
    # tox's noise is grouped and never above the cause
    first_expected = next(
        (i for i, f in enumerate(report.findings) if f.group == "expected"), len(report.findings)
    )
    assert first_expected > 0
    lines = text.splitlines()
    assert len(lines) <= 25, text
    assert subject in lines[0], text
    assert f"[{code}]" in lines[1], text


def project(tmp_path: Path, files: Mapping[str, str] = PROJECT) -> Path:
    root = tmp_path / "proj"
    write_tree(root, files)
    return root


def test_same_venv_twice_has_no_error_or_warning(venvs: Callable[[str, str], Path], tmp_path: Path) -> None:
    proj = project(tmp_path)
    python = venvs("local", "uv")
    a = snap(python, proj, tox=False, env={"UNIT_TESTS": "1"})
    b = snap(python, proj, tox=False, env={"UNIT_TESTS": "1"})
    report = diagnose(a, b)
    assert [f for f in report.findings if f.severity != "info"] == []


def test_stripped_variable_the_code_reads(venvs: Callable[[str, str], Path], tmp_path: Path) -> None:
    proj = project(tmp_path)
    base = snap(venvs("local", "uv"), proj, tox=False, env={"UNIT_TESTS": "1"})
    target = snap(venvs("tox", "virtualenv"), proj, tox=True)
    tox = ToxFacts(ini_path=str(proj / "tox.ini"), ini_section="testenv", section_line=1)
    report = diagnose(base, target, env_name="py", tox=tox)
    check(report, "BA101", "UNIT_TESTS")
    assert "pass_env = UNIT_TESTS" in report.findings[0].fix
    assert "app/broker.py:3" in report.findings[0].evidence["summary"]


def test_extra_pth_that_imports_the_app(venvs: Callable[[str, str], Path], tmp_path: Path) -> None:
    proj = project(tmp_path)
    tox_python = venvs("tox-pth", "virtualenv")
    (_site_packages(tox_python) / "zzz_early.pth").write_text(
        f"import sys; sys.path.insert(0, {str(proj)!r}); import app.tasks\n", encoding="utf-8"
    )
    base = snap(venvs("local", "uv"), proj, tox=False, env={"UNIT_TESTS": "1"})
    target = snap(tox_python, proj, tox=True, env={"UNIT_TESTS": "1"})
    report = diagnose(base, target, env_name="py")
    check(report, "BA301", "zzz_early.pth")
    assert report.findings[0].severity == "error"


def test_local_only_sitecustomize(venvs: Callable[[str, str], Path], tmp_path: Path) -> None:
    proj = project(tmp_path)
    local = venvs("local-sitecustomize", "uv")
    (_site_packages(local) / "sitecustomize.py").write_text(
        "import os\nos.environ.setdefault('UNIT_TESTS', '1')\n", encoding="utf-8"
    )
    base = snap(local, proj, tox=False)
    target = snap(venvs("tox", "virtualenv"), proj, tox=True)
    report = diagnose(base, target, env_name="py")
    check(report, "BA303", "sitecustomize")
    explained = {f.subject: f for f in report.findings if f.id in report.findings[0].explains}
    assert "UNIT_TESTS" in explained
    # The probe's write trace names the exact setter.
    assert "sitecustomize.py:2 at interpreter start-up" in explained["UNIT_TESTS"].title


def _fake_dist(site: Path, name: str, module_text: str) -> None:
    """A real installed distribution (dist-info + module) with a pytest11 entry point."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[pytest11]\n{name} = {name}\n", encoding="utf-8")
    (info / "RECORD").write_text(f"{name}.py,,\n{name}-1.0.dist-info/METADATA,,\n", encoding="utf-8")
    (info / "top_level.txt").write_text(f"{name}\n", encoding="utf-8")
    (site / f"{name}.py").write_text(module_text, encoding="utf-8")


def test_plugin_present_on_one_side_imports_the_app(
    venvs: Callable[[str, str], Path], tmp_path: Path
) -> None:
    proj = project(tmp_path)
    tox_python = venvs("tox-plugin", "virtualenv")
    _fake_dist(
        _site_packages(tox_python),
        "earlybird",
        f"import sys\nsys.path.insert(0, {str(proj)!r})\nimport app.tasks  # registers actors at load time\n",
    )
    base = snap(venvs("local", "uv"), proj, tox=False)
    target = snap(tox_python, proj, tox=True)
    report = diagnose(base, target, env_name="py")
    check(report, "BA401", "earlybird")
    assert "move the import of app" in report.findings[0].fix


def test_python_m_pytest_vs_pytest_with_a_cwd_only_module(
    venvs: Callable[[str, str], Path], tmp_path: Path
) -> None:
    files = {
        "helper.py": "VALUE = 1\n",
        "tests/conftest.py": "",
        "tests/test_helper.py": "import helper\n\ndef test_value():\n    assert helper.VALUE == 1\n",
    }
    proj = project(tmp_path, files)
    base = snap(venvs("local", "uv"), proj, tox=False, invocation="python-m")
    target = snap(venvs("tox", "virtualenv"), proj, tox=True)
    assert target.pytest.collection_errors, "the target must fail to import helper"
    report = diagnose(base, target, env_name="py")
    check(report, "BA305", str(proj))
    explained = {f.code for f in report.findings if f.id in report.findings[0].explains}
    assert "BA902" in explained


def test_a_different_ini_file(venvs: Callable[[str, str], Path], tmp_path: Path) -> None:
    files = dict(PROJECT)
    files["local.ini"] = "[pytest]\ntestpaths = tests\naddopts = -p no:doctest --import-mode=importlib\n"
    proj = project(tmp_path, files)
    base = snap(venvs("local", "uv"), proj, tox=False, args=("-c", "local.ini"))
    target = snap(venvs("tox", "virtualenv"), proj, tox=True)
    report = diagnose(base, target, env_name="py")
    check(report, "BA403", "inifile")
    explained = {f.subject for f in report.findings if f.id in report.findings[0].explains}
    assert {"addopts", "import_mode"} <= explained
