"""The tox front door through real tox runs on tiny projects (no package, no deps; slow: each
test creates real envs).

What the scenario suite does not cover: every config format carries the env keys, a failing
probe never changes the env's result, --broker-audit-fail-on, --broker-audit-save-baseline,
artefacts, and run-parallel sharing one baseline. What needs no env (option values that are
start-up errors, which commands start the audit, the config keys as tox reads them) is in
``tests/test_tox_inprocess.py``, in-process and fast.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from helpers import run_tox, tox_shell, write_tree

pytestmark = pytest.mark.slow

TOX_INI = """
[tox]
env_list = py

[testenv]
package = skip
commands = python -c "print('the env command ran')"
"""


def _shell(**extra: str) -> dict[str, str]:
    return tox_shell(**extra)


def tox(project: Path, *args: str, **extra: str) -> tuple[int, str]:
    return run_tox(project, *args, timeout=300, **extra)


def _report(project: Path, env: str = "py") -> dict[str, object]:
    data: dict[str, object] = json.loads(
        (project / ".tox" / env / "broker-audit" / "report.json").read_text()
    )
    return data


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "proj", {"tox.ini": TOX_INI})


def _fake_python(tmp_path: Path) -> Path:
    fake = tmp_path / "broken-python"
    fake.write_text("#!/bin/sh\necho 'Fatal Python error: init_fs_encoding' >&2\nexit 1\n")
    fake.chmod(0o755)
    return fake


def test_without_the_option_nothing_happens(project: Path) -> None:
    code, out = tox(project)
    assert code == 0, out
    assert "broker audit" not in out
    assert not (project / ".tox" / "py" / "broker-audit").exists()


def test_audited_run_writes_artefacts_and_prints_after_the_commands(project: Path) -> None:
    code, out = tox(project, "--broker-audit", f"--broker-audit-baseline={sys.executable}")
    assert code == 0, out
    assert out.index("the env command ran") < out.index("broker audit"), out
    # The command runs no pytest the audit can see into: it says so, once, with the way out.
    assert out.count("is not a pytest command the audit can emulate") == 1, out
    assert "broker_audit_pytest_args = <your pytest arguments>" in out
    # tox books the audit's time under the env's setup: the audit says its own.
    assert re.search(r"broker-audit: py: the audit took \d+\.\d s", out), out
    out_dir = project / ".tox" / "py" / "broker-audit"
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "baseline.json",
        "report.json",
        "report.md",
        "target.json",
    ]
    report = _report(project)
    assert report["schema"] == "tox-broker-audit/report"
    assert report["env"] == "py"
    assert json.loads((out_dir / "target.json").read_text())["meta"]["source"]["kind"] == "tox-env"
    assert json.loads((out_dir / "baseline.json").read_text())["meta"]["source"]["kind"] == "plain-pytest"


def test_a_crashing_probe_is_ba901_and_leaves_the_result_alone(project: Path, tmp_path: Path) -> None:
    fake = _fake_python(tmp_path)
    code, out = tox(project, "--broker-audit", f"--broker-audit-baseline={fake}")
    assert code == 0, out
    assert "Traceback" not in out
    assert "no baseline: the probe crashed" in out
    findings = _report(project)["findings"]
    assert isinstance(findings, list)
    assert findings[0]["code"] == "BA901"
    assert findings[0]["subject"] == "baseline"


def test_fail_on_makes_the_env_fail(project: Path, tmp_path: Path) -> None:
    fake = _fake_python(tmp_path)
    code, out = tox(
        project, "--broker-audit", f"--broker-audit-baseline={fake}", "--broker-audit-fail-on=warning"
    )
    assert code != 0, out
    assert "broker audit: 1 finding(s) at or above --broker-audit-fail-on=warning" in out
    code, out = tox(
        project, "--broker-audit", f"--broker-audit-baseline={fake}", "--broker-audit-fail-on=error"
    )
    assert code == 0, out


def test_save_baseline_writes_a_loadable_snapshot(project: Path, tmp_path: Path) -> None:
    from tox_broker_audit import load_snapshot

    saved = tmp_path / "saved" / "baseline.json"
    code, out = tox(
        project,
        "--broker-audit",
        f"--broker-audit-baseline={sys.executable}",
        f"--broker-audit-save-baseline={saved}",
    )
    assert code == 0, out
    assert f"baseline snapshot saved to {saved}" in out
    assert load_snapshot(saved).meta.source.kind == "plain-pytest"
    # ... and it serves as the baseline of a later run
    code, out = tox(project, "--broker-audit", f"--broker-audit-baseline={saved}")
    assert code == 0, out
    assert _report(project)["baseline"]


def test_run_parallel_envs_share_one_baseline(tmp_path: Path) -> None:
    project = write_tree(tmp_path / "proj", {"tox.ini": TOX_INI.replace("env_list = py", "env_list = a, b")})
    code, out = tox(project, "run-parallel", "--broker-audit", f"--broker-audit-baseline={sys.executable}")
    assert code == 0, out
    created = {
        json.loads((project / ".tox" / env / "broker-audit" / "baseline.json").read_text())["meta"]["created"]
        for env in ("a", "b")
    }
    assert len(created) == 1, "each env must reuse the one baseline of the tox run"


CONFIGS = {
    "tox.ini": """
        [testenv]
        package = skip
        commands = python -c pass
        broker_audit_ignore = BA101:TBA_ONLY_*
        broker_audit_pytest_args = -p no:cacheprovider
    """,
    "setup.cfg": """
        [tox:tox]
        env_list = py
        [testenv]
        package = skip
        commands = python -c pass
        broker_audit_ignore = BA101:TBA_ONLY_*
        broker_audit_pytest_args = -p no:cacheprovider
    """,
    "pyproject.toml": '''
        [tool.tox]
        legacy_tox_ini = """
        [testenv]
        package = skip
        commands = python -c pass
        broker_audit_ignore = BA101:TBA_ONLY_*
        broker_audit_pytest_args = -p no:cacheprovider
        """
    ''',
    "pyproject.toml-native": """
        [tool.tox]
        env_list = ["py"]
        [tool.tox.env_run_base]
        package = "skip"
        commands = [["python", "-c", "pass"]]
        broker_audit_ignore = ["BA101:TBA_ONLY_*"]
        broker_audit_pytest_args = ["-p no:cacheprovider"]
    """,
    "tox.toml": """
        env_list = ["py"]
        [env_run_base]
        package = "skip"
        commands = [["python", "-c", "pass"]]
        broker_audit_ignore = ["BA101:TBA_ONLY_*"]
        broker_audit_pytest_args = ["-p", "no:cacheprovider"]
    """,
}


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_env_keys_work_in_every_config_format(tmp_path: Path, config: str) -> None:
    project = write_tree(tmp_path / "proj", {config.split("-", maxsplit=1)[0]: CONFIGS[config]})
    shell = {"TBA_ONLY_LOCAL": "1", "TBA_KEPT_LOCAL": "1"}
    code, out = tox(project, "--broker-audit", f"--broker-audit-baseline={sys.executable}", **shell)
    assert code == 0, out
    report = _report(project)
    subjects = {(f["code"], f["subject"]) for f in report["findings"]}  # type: ignore[attr-defined]
    assert ("BA101", "TBA_KEPT_LOCAL") in subjects
    assert ("BA101", "TBA_ONLY_LOCAL") not in subjects, "broker_audit_ignore was not applied"
    target = json.loads((project / ".tox" / "py" / "broker-audit" / "target.json").read_text())
    assert target["meta"]["command"][-2:] == ["-p", "no:cacheprovider"], "broker_audit_pytest_args not used"


def test_the_baseline_collects_what_the_env_collects(tmp_path: Path) -> None:
    """tox runs ``pytest tests/unit``: the baseline collects the same tests, so a broken test
    module elsewhere (which tox never runs) is no "collection error on one side only"."""
    project = write_tree(
        tmp_path / "sel",
        {
            "tox.ini": "[testenv]\npackage = skip\ndeps = pytest\ncommands = pytest tests/unit {posargs}\n",
            "tests/unit/test_ok.py": "def test_ok():\n    assert True\n",
            "tests/broken/test_broken.py": "import no_such_module_here\n",
        },
    )
    code, out = tox(project, "--broker-audit", f"--broker-audit-baseline={sys.executable}")
    assert code == 0, out
    out_dir = project / ".tox" / "py" / "broker-audit"
    baseline = json.loads((out_dir / "baseline.json").read_text())
    target = json.loads((out_dir / "target.json").read_text())
    assert baseline["pytest"]["collected"] == target["pytest"]["collected"] == 1
    assert baseline["pytest"]["collection_errors"] == []
    findings = _report(project)["findings"]
    assert isinstance(findings, list)
    assert "BA902" not in {f["code"] for f in findings}
    assert "collect different tests" not in out
    # The baseline venv has tox-broker-audit itself installed (its pytest plugin loads there):
    # the audit never reports its own footprint.
    own = [f["id"] for f in findings if "broker_audit" in f["subject"] or "broker-audit" in f["subject"]]
    assert own == []


VERIFY_INI = """
[tox]
env_list = py

[testenv]
package = skip
deps = pytest
commands = pytest {posargs}
"""


def test_the_verify_stage_confirms_the_cause_and_can_be_switched_off(tmp_path: Path) -> None:
    """A conftest needs LEDGER_DB (exported locally, not passed by tox): pytest stops before
    collecting under tox; one re-probe with it passed in confirms the cause."""
    project = write_tree(
        tmp_path / "proj",
        {
            "tox.ini": VERIFY_INI,
            "conftest.py": "import os\n\nDB = os.environ['LEDGER_DB']\n",
            "test_x.py": "def test_x():\n    pass\n",
        },
    )
    baseline = f"--broker-audit-baseline={sys.executable}"
    code, out = tox(project, "--broker-audit", baseline, LEDGER_DB="ledger_test")
    assert code != 0, out
    top = _report(project)["findings"][0]  # type: ignore[index]
    assert (top["code"], top["subject"]) == ("BA101", "LEDGER_DB"), out
    assert top["verification"]["status"] == "confirmed", out
    assert top["verification"]["intervention"] == "with LEDGER_DB=ledger_test passed into py"
    assert top["verification"]["runs"] >= 1
    assert "confirmed: with LEDGER_DB=ledger_test passed into py" in out

    code, out = tox(
        project, "--broker-audit", baseline, LEDGER_DB="ledger_test", TOX_BROKER_AUDIT_VERIFY="off"
    )
    assert code != 0, out
    findings = _report(project)["findings"]
    assert all(f["verification"] is None for f in findings), out  # type: ignore[union-attr]
