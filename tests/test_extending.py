"""Third-party rules and renderers: a real dist-info with an entry point, loaded through pluggy."""

from __future__ import annotations

import re
import runpy
import textwrap
from pathlib import Path

import pytest

from _snapshot_factory import make_snapshot
from tox_broker_audit import dump_snapshot
from tox_broker_audit.diagnosis.engine import diagnose
from tox_broker_audit.diagnosis.registry import make_plugin_manager
from tox_broker_audit.renderers import available_formats, render

EXTENSION = """
from tox_broker_audit import Finding, hookimpl


def celery_rule(ctx):
    yield Finding(code="XCL001", slug="celery-eager", severity="warning", title="celery eager mode differs",
                  subject="CELERY_TASK_ALWAYS_EAGER", detail="...", fix="set it in both",
                  evidence={"about": ["env:X"], "effects_on": []}, group="cause")


celery_rule.needs_baseline = False


class Shout:
    name = "shout"

    def __call__(self, report, options):
        return " ".join(f.code for f in report.findings).upper() + "!"


@hookimpl
def broker_audit_rules():
    return [celery_rule]


@hookimpl
def broker_audit_renderers():
    return [Shout()]
"""


@pytest.fixture
def installed_extension(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    info = site / "tba_celery-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: tba-celery\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[tox_broker_audit]\ncelery = tba_celery_rules\n", encoding="utf-8"
    )
    (info / "RECORD").write_text("", encoding="utf-8")
    (site / "tba_celery_rules.py").write_text(textwrap.dedent(EXTENSION), encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    return site


def test_rules_and_renderers_from_an_installed_distribution(installed_extension: Path) -> None:
    pm = make_plugin_manager()
    assert "celery" in {name for name, _ in pm.list_name_plugin()}
    snap = make_snapshot()
    report = diagnose(None, snap, plugin_manager=pm)
    assert [f.code for f in report.findings] == ["XCL001"]
    assert "shout" in available_formats(pm)
    assert render(report, "shout", plugin_manager=pm) == "XCL001!"


def test_without_entry_points_only_builtins_are_registered(installed_extension: Path) -> None:
    pm = make_plugin_manager(entry_points=False)
    assert "shout" not in available_formats(pm)
    assert diagnose(None, make_snapshot(), plugin_manager=pm).findings == ()


DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_documented_extension_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/extending.md's rule and renderer, installed through its entry point, and its
    "In Python" example run verbatim on two snapshot files — public API only."""
    rule_block, renderer_block, usage_block = _python_blocks()
    assert "tox_broker_audit._" not in "".join(_python_blocks())  # private modules stay private
    site = tmp_path / "site"
    info = site / "my_ext-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-ext\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[tox_broker_audit]\ncelery = my_ext_rules\n", encoding="utf-8")
    (info / "RECORD").write_text("", encoding="utf-8")
    (site / "my_ext_rules.py").write_text(rule_block + "\n" + renderer_block, encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.chdir(tmp_path)
    dump_snapshot(make_snapshot(), tmp_path / "local.json")
    dump_snapshot(make_snapshot(env={"CELERY_TASK_ALWAYS_EAGER": "0"}), tmp_path / "ci.json")
    runpy.run_path(str(_write(tmp_path / "usage.py", usage_block)))
    assert capsys.readouterr().out.strip().startswith("XCL001")


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
