"""CI drift against a committed reference, with real tox (docs/ci.md, issue 12).

The project is copied to two absolute paths and run under two different ``HOME``s, as a
developer's machine and a CI runner are: a reference saved in the first and compared in the
second must show no drift; a pytest plugin added to the test deps in the second is exactly one
annotation, at the line that added it; a CI run with no developer env and no reference is quiet.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from _schemas import validate_sarif
from helpers import run, write_tree

pytestmark = pytest.mark.slow

PROJECT = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "greeter"
        version = "1.0.0"
        dependencies = ["dramatiq"]

        [tool.setuptools]
        packages = ["greeter"]
    """,
    "tox.ini": """
        [tox]
        env_list = py

        [testenv]
        deps =
            pytest
        commands = pytest {posargs}
    """,
    "greeter/__init__.py": "",
    "greeter/tasks.py": """
        import dramatiq


        @dramatiq.actor(queue_name="greetings")
        def greet(name: str) -> None:
            print(f"hello {name}")
    """,
    "tests/conftest.py": """
        import dramatiq
        import pytest
        from dramatiq.brokers.stub import StubBroker

        stub = StubBroker()
        dramatiq.set_broker(stub)


        @pytest.fixture
        def broker():
            yield stub
            stub.flush_all()
    """,
    "tests/test_greet.py": """
        from greeter import tasks


        def test_greeting_is_queued(broker):
            tasks.greet.send("ada")
            assert broker.queues["greetings"].qsize() == 1
    """,
}

_KEEP = ("LANG", "LC_ALL", "TMPDIR", "TZ", "USER", "LOGNAME")


def _shell(home: Path, **extra: str) -> dict[str, str]:
    """A CI runner's shell: no developer venv, tox's pip cache shared (speed only)."""
    dev_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k in _KEEP or k.startswith(("PIP_", "UV_"))}
    env["PATH"] = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != dev_bin)
    env["HOME"] = str(home)
    env.setdefault("PIP_CACHE_DIR", os.path.expanduser("~/.cache/pip"))
    env.update(extra)
    return env


def _tox(project: Path, home: Path, *args: str, **extra: str) -> tuple[int, str]:
    proc = run(
        [sys.executable, "-m", "tox", "-e", "py", "--broker-audit", *args],
        cwd=project,
        env=_shell(home, **extra),
        check=False,
        timeout=600,
    )
    return proc.returncode, proc.stdout + proc.stderr


def _report(project: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((project / ".tox/py/broker-audit/report.json").read_text())
    return data


def _annotations(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(("::error", "::warning", "::notice"))]


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.strip() == text)


def test_a_reference_from_another_checkout_and_home_shows_only_real_drift(tmp_path: Path) -> None:
    first = write_tree(tmp_path / "dev-machine" / "greeter", PROJECT)
    home_a, home_b = tmp_path / "home-a", tmp_path / "home-b"
    home_a.mkdir()
    home_b.mkdir()

    code, out = _tox(first, home_a, "--broker-audit-save=ci/broker-audit")
    assert code == 0, out
    saved = first / "ci" / "broker-audit" / "py.json"
    assert saved.is_file(), out
    assert "ci/broker-audit/py.json" in out

    # The reference is committed; CI checks the repository out at another path, as another user.
    second = tmp_path / "runner" / "work" / "greeter"
    shutil.copytree(first, second, ignore=shutil.ignore_patterns(".tox"))
    summary = tmp_path / "step-summary.md"
    summary.write_text("## earlier step\n")
    ci = {"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    code, out = _tox(
        second,
        home_b,
        "--broker-audit-baseline=ci/broker-audit",
        "--broker-audit-format=terminal,sarif",
        **ci,
    )
    assert code == 0, out
    report = _report(second)
    findings = report["findings"]
    assert isinstance(findings, list)
    noise = [f"{f['code']} {f['subject']}: {f['title']}" for f in findings if f["group"] != "expected"]
    assert noise == [], out
    assert _annotations(out) == [], out
    baseline = report["baseline"]
    assert isinstance(baseline, dict)
    assert baseline["kind"] == "reference"
    assert "the reference ci/broker-audit/py.json (saved " in out, out
    assert "locally" not in out, out
    # The job summary gets the Markdown report, after what earlier steps wrote.
    text = summary.read_text()
    assert text.startswith("## earlier step\n"), text
    assert (second / ".tox/py/broker-audit/report.md").read_text() in text
    validate_sarif(json.loads((second / ".tox/py/broker-audit/report.sarif").read_text()))

    # A pytest plugin added to the test deps in the CI checkout (the key in [tox], no flag now).
    tox_ini = second / "tox.ini"
    tox_ini.write_text(
        tox_ini.read_text()
        .replace("env_list = py\n", "env_list = py\nbroker_audit_baseline = ci/broker-audit\n")
        .replace("    pytest\n", "    pytest\n    pytest-randomly\n")
    )
    code, out = _tox(second, home_b, "--broker-audit-format=terminal,sarif", **ci)
    assert code == 0, out
    annotations = [a for a in _annotations(out) if a.startswith(("::error", "::warning"))]
    assert len(annotations) == 1, out
    assert _annotations(out) == annotations, out
    line = _line_of(tox_ini, "pytest-randomly")
    assert annotations[0].startswith(f"::warning file=tox.ini,line={line},") or annotations[0].startswith(
        f"::error file=tox.ini,line={line},"
    ), annotations
    assert "pytest-randomly" in annotations[0]
    assert "since the reference" in annotations[0]
    validate_sarif(json.loads((second / ".tox/py/broker-audit/report.sarif").read_text()))


def test_ci_without_developer_env_or_reference_is_quiet(tmp_path: Path) -> None:
    project = write_tree(tmp_path / "greeter", PROJECT)
    home = tmp_path / "home"
    home.mkdir()
    ci = {"GITHUB_ACTIONS": "true", "CI": "true"}
    plain = run(
        [sys.executable, "-m", "tox", "-e", "py"],
        cwd=project,
        env=_shell(home, **ci),
        check=False,
        timeout=600,
    )
    code, out = _tox(project, home, **ci)
    assert code == plain.returncode == 0, out
    assert _annotations(out) == [], out
    hints = [line for line in out.splitlines() if "no reference to compare with" in line]
    assert len(hints) == 1, out
    assert "--broker-audit-save=" in hints[0]
    assert "broker_audit_baseline" in hints[0]
    report = _report(project)
    baseline = report["baseline"]
    assert isinstance(baseline, dict)
    assert baseline["kind"] == "none"


CORE_KEY_CONFIGS = {
    "tox.ini": """
        [tox]
        env_list = py
        broker_audit_baseline = refs
        [testenv]
        package = skip
        commands = python -c pass
    """,
    "setup.cfg": """
        [tox:tox]
        env_list = py
        broker_audit_baseline = refs
        [testenv]
        package = skip
        commands = python -c pass
    """,
    "pyproject.toml": '''
        [tool.tox]
        legacy_tox_ini = """
        [tox]
        env_list = py
        broker_audit_baseline = refs
        [testenv]
        package = skip
        commands = python -c pass
        """
    ''',
    "pyproject.toml-native": """
        [tool.tox]
        env_list = ["py"]
        broker_audit_baseline = "refs"
        [tool.tox.env_run_base]
        package = "skip"
        commands = [["python", "-c", "pass"]]
    """,
    "tox.toml": """
        env_list = ["py"]
        broker_audit_baseline = "refs"
        [env_run_base]
        package = "skip"
        commands = [["python", "-c", "pass"]]
    """,
}


@pytest.mark.parametrize("config", sorted(CORE_KEY_CONFIGS))
def test_the_core_key_works_in_every_config_format(tmp_path: Path, config: str) -> None:
    """``broker_audit_baseline`` is read from tox's core configuration, relative to the tox
    root (tox runs from a sub-directory here); a missing reference is one line, no finding."""
    project = write_tree(tmp_path / "proj", {config.split("-", maxsplit=1)[0]: CORE_KEY_CONFIGS[config]})
    (project / "sub").mkdir()
    home = tmp_path / "home"
    home.mkdir()
    config_file = project / config.split("-", maxsplit=1)[0]
    proc = run(
        [sys.executable, "-m", "tox", "-c", config_file, "--broker-audit"],
        cwd=project / "sub",
        env=_shell(home),
        check=False,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "broker-audit: py: no reference to compare with (refs/py.json does not exist)" in out, out
    assert "--broker-audit-save=refs" in out
    findings = _report(project)["findings"]
    assert isinstance(findings, list)
    assert not [f for f in findings if f["code"] == "BA901" and f["subject"] == "baseline"], findings


def test_the_option_wins_over_the_core_key(tmp_path: Path) -> None:
    project = write_tree(tmp_path / "proj", {"tox.ini": CORE_KEY_CONFIGS["tox.ini"]})
    (project / "ci" / "elsewhere").mkdir(parents=True)  # on the command line a path must exist
    home = tmp_path / "home"
    home.mkdir()
    proc = run(
        [sys.executable, "-m", "tox", "--broker-audit", "--broker-audit-baseline=ci/elsewhere"],
        cwd=project,
        env=_shell(home),
        check=False,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "no reference to compare with (ci/elsewhere/py.json does not exist)" in out, out
    assert "refs/py.json" not in out
