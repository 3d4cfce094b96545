"""Diagnosis rules, linking and ranking on hand-built snapshots (no probe, no venvs)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from _snapshot_factory import KEY, PROJECT, dist, event, make_snapshot, origin, package, plugin, pth, read
from tox_broker_audit.diagnosis.codes import CODES
from tox_broker_audit.diagnosis.engine import diagnose, probe_failure_finding, propagate_imports
from tox_broker_audit.diagnosis.hooks import rule
from tox_broker_audit.diagnosis.model import DiagnosisContext, Finding, Location, ToxFacts
from tox_broker_audit.diagnosis.registry import collect_rules
from tox_broker_audit.diagnosis.rules._common import finding
from tox_broker_audit.renderers import render
from tox_broker_audit.renderers.json import report_to_dict

B, T = "/proj/.venv", "/proj/.tox/py312"
APP = [
    origin("app", f"{PROJECT}/app/__init__.py", in_project=True),
    origin("app.broker", f"{PROJECT}/app/broker.py", in_project=True),
    origin("app.tasks", f"{PROJECT}/app/tasks.py", in_project=True),
]
TOX = ToxFacts(ini_path=f"{PROJECT}/tox.ini", ini_section="testenv", section_line=4, pass_env=("HOME",))


def dists(prefix: str, *extra: dict[str, object]) -> list[dict[str, object]]:
    return [
        dist("pytest", "8.3.0", prefix=prefix, top_level=["pytest", "_pytest", "py"]),
        dist("pluggy", "1.5.0", prefix=prefix),
        *extra,
    ]


def serious(report_findings: tuple[Finding, ...]) -> list[Finding]:
    return [f for f in report_findings if f.severity in ("error", "warning")]


def test_same_snapshot_twice_has_no_error_or_warning() -> None:
    snap = make_snapshot(
        prefix=B, reads=[read("UNIT_TESTS", f"{PROJECT}/app/broker.py", module="app.broker")]
    )
    report = diagnose(snap, snap)
    assert report.findings == ()
    assert report.summary == {"error": 0, "warning": 0, "info": 0}


def test_env_var_read_by_project_code_is_the_top_finding_with_a_pass_env_fix() -> None:
    reads_b = [
        read("UNIT_TESTS", f"{PROJECT}/app/broker.py", module="app.broker", line=7),
        read("COLUMNS", "/usr/lib/python3.12/shutil.py", module="shutil"),
    ]
    reads_t = [
        read("UNIT_TESTS", f"{PROJECT}/app/broker.py", module="app.broker", line=7, present=False),
        read("COLUMNS", "/usr/lib/python3.12/shutil.py", module="shutil", present=False),
    ]
    base = make_snapshot(
        prefix=B,
        env={"HOME": "/h", "UNIT_TESTS": "1", "COLUMNS": "80", "SOMETHING": "x", "VIRTUAL_ENV": B},
        reads=reads_b,
        origins=APP,
        dists=dists(B, dist("pip", "23.0", prefix=B)),
    )
    target = make_snapshot(
        prefix=T,
        env={"HOME": "/h", "TOX_ENV_NAME": "py312", "PYTHONHASHSEED": "7", "VIRTUAL_ENV": T, "PIP_USER": "0"},
        reads=reads_t,
        origins=APP,
        hashseed="7",
        dists=dists(T, dist("pip", "24.0", prefix=T)),
    )
    report = diagnose(base, target, env_name="py312", tox=TOX)
    top = report.findings[0]
    assert (top.code, top.subject, top.severity, top.group) == ("BA101", "UNIT_TESTS", "error", "cause")
    assert "pass_env = UNIT_TESTS" in top.fix
    assert top.fix.startswith("tox.ini:4 [testenv]")
    assert top.location is not None
    assert top.location.path == f"{PROJECT}/tox.ini"
    assert "app/broker.py:7" in top.evidence["summary"]
    by_subject = {f.subject: f for f in report.findings}
    # read only by the stdlib: info, not a cause; nobody read it: info
    assert (by_subject["COLUMNS"].severity, by_subject["COLUMNS"].group) == ("info", "other")
    assert by_subject["SOMETHING"].severity == "info"
    # tox's own noise is grouped as expected
    for name in ("TOX_ENV_NAME", "PYTHONHASHSEED", "PIP_USER", "pip"):
        assert by_subject[name].group == "expected", name
    # VIRTUAL_ENV names each side's own env on both sides: compared relative to it, no difference
    assert "VIRTUAL_ENV" not in by_subject
    assert serious(report.findings) == [top]


def _broker_effect_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """Stands in for the broker rules (BA602/BA603) following the linking convention."""
    yield finding(
        "BA602",
        "error",
        "app.broker built RabbitmqBroker(amqp://127.0.0.1:5672)",
        "app.broker",
        "…",
        "…",
        about=["module:app.broker", "broker:b1"],
        effects_on=["broker:b1", "target:127.0.0.1:5672"],
        group="cause",
        score=50,
    )
    yield finding(
        "BA603",
        "error",
        "127.0.0.1:5672 refused the connection",
        "127.0.0.1:5672",
        "…",
        "…",
        about=["target:127.0.0.1:5672"],
        group="cause",
        score=40,
    )


def test_cause_is_linked_to_its_effects_and_ranked_first() -> None:
    base = make_snapshot(
        prefix=B,
        env={"UNIT_TESTS": "1"},
        reads=[read("UNIT_TESTS", f"{PROJECT}/app/broker.py", module="app.broker")],
        origins=APP,
    )
    target = make_snapshot(
        prefix=T,
        env={},
        reads=[read("UNIT_TESTS", f"{PROJECT}/app/broker.py", module="app.broker", present=False)],
    )
    rules = [*collect_rules(), _broker_effect_rule]
    report = diagnose(base, target, env_name="py312", rules=rules)
    codes = [f.code for f in report.findings]
    assert codes[:3] == ["BA101", "BA602", "BA603"]
    root, ba602, ba603 = report.findings[:3]
    assert root.root_cause
    assert not ba602.root_cause
    assert not ba603.root_cause
    assert root.explains == (ba602.id,)
    assert ba602.explains == (ba603.id,)
    assert root.id == "BA101-unit-tests"
    assert len({f.id for f in report.findings}) == len(report.findings)


def test_pth_importing_an_app_module_outranks_one_that_does_not() -> None:
    timeline = [
        {
            "module": "app.tasks",
            "phase": "startup",
            "importer": "site",
            "importer_file": f"{T}/x/evil.pth",
            "importer_line": None,
        },
    ]
    base = make_snapshot(prefix=B, origins=APP)
    target = make_snapshot(
        prefix=T,
        origins=APP,
        timeline=timeline,
        pth_files=[
            pth("evil.pth", prefix=T, exec_lines=["import app.tasks"], imported=["app", "app.tasks"]),
            pth("harmless.pth", prefix=T, exec_lines=["import json"]),
            pth("_virtualenv.pth", prefix=T, exec_lines=["import _virtualenv"], known="virtualenv"),
        ],
    )
    report = diagnose(base, target)
    top = report.findings[0]
    assert (top.code, top.subject, top.severity) == ("BA301", "evil.pth", "error")
    assert top.root_cause
    explained = {f.code for f in report.findings if f.id in top.explains}
    assert "BA406" in explained
    harmless = next(f for f in report.findings if f.subject == "harmless.pth")
    venv_pth = next(f for f in report.findings if f.subject == "_virtualenv.pth")
    assert harmless.severity == "warning"
    assert venv_pth.group == "expected"
    assert report.findings.index(harmless) > report.findings.index(top)


def test_local_only_sitecustomize_that_sets_a_variable_is_the_root_cause() -> None:
    custom = {
        "module": "sitecustomize",
        "path": f"{B}/lib/python3.12/site-packages/sitecustomize.py",
        "sha256": "ab",
        "imported": [],
        "error": None,
    }
    base = make_snapshot(
        prefix=B,
        env={},
        sitecustomize=custom,
        reads=[read("UNIT_TESTS", f"{PROJECT}/app/broker.py", module="app.broker", present=True)],
        origins=APP,
    )
    target = make_snapshot(
        prefix=T,
        env={},
        reads=[read("UNIT_TESTS", f"{PROJECT}/app/broker.py", module="app.broker", present=False)],
        origins=APP,
    )
    report = diagnose(base, target)
    top = report.findings[0]
    assert (top.code, top.subject) == ("BA303", "sitecustomize")
    assert top.root_cause
    effect = next(f for f in report.findings if f.id in top.explains)
    assert (effect.code, effect.subject) == ("BA101", "UNIT_TESTS")
    assert effect.evidence["runtime_set"] is True


def test_write_trace_attributes_a_runtime_variable_to_its_setter_only() -> None:
    """Two start-up items exist locally only; the write trace says which one set UNIT_TESTS."""
    custom_path = f"{B}/lib/python3.12/site-packages/sitecustomize.py"
    custom = {"module": "sitecustomize", "path": custom_path, "sha256": "ab", "imported": [], "error": None}
    boot = pth("boot.pth", prefix=B, exec_lines=["import boot"], imported=["boot"])
    write = {
        "name": "UNIT_TESTS",
        "how": "setdefault",
        "phase": "startup",
        "file": custom_path,
        "line": 2,
        "module": "sitecustomize",
        "value": "1",
    }
    base = make_snapshot(
        prefix=B,
        env={},
        sitecustomize=custom,
        pth_files=[boot],
        writes=[write],
        reads=[read("UNIT_TESTS", f"{PROJECT}/app/broker.py", module="app.broker", present=True)],
        origins=APP,
    )
    target = make_snapshot(
        prefix=T,
        env={},
        reads=[read("UNIT_TESTS", f"{PROJECT}/app/broker.py", module="app.broker", present=False)],
        origins=APP,
    )
    report = diagnose(base, target)
    by_code = {f.code: f for f in report.findings}
    effect = by_code["BA101"]
    assert effect.id in by_code["BA303"].explains
    assert effect.id not in by_code["BA301"].explains
    assert (report.findings[0].code, report.findings[0].subject) == ("BA303", "sitecustomize")
    assert effect.title == (
        "UNIT_TESTS is set at run time in the baseline by .venv/lib/python3.12/site-packages/"
        "sitecustomize.py:2 at interpreter start-up but not in the target"
    )


def test_app_imported_by_a_library_a_local_only_plugin_set_up_is_that_plugins_effect() -> None:
    """pytest-django only locally: its django.setup() imports the app through Django. The cause is
    the missing plugin (add it to deps), not an early import with a fix inside site-packages."""
    plug = plugin("django", "pytest_django.plugin", prefix=B, distribution="pytest-django")
    django_config = f"{B}/lib/python3.12/site-packages/django/apps/config.py"
    timeline = [
        {
            "module": "app.tasks",
            "phase": "plugin-load",
            "importer": "django.apps.config",
            "importer_file": django_config,
            "importer_line": 123,
            "via": ["django.apps.config", "django.apps.registry", "django", "pytest_django.plugin"],
        },
    ]
    base = make_snapshot(
        prefix=B,
        origins=APP,
        plugins=[plug],
        timeline=timeline,
        dists=dists(B, dist("pytest-django", prefix=B)),
    )
    target = make_snapshot(prefix=T, origins=APP)
    report = diagnose(base, target, tox=TOX)
    top = report.findings[0]
    assert (top.code, top.subject, top.severity) == ("BA401", "pytest-django", "error")
    assert "add pytest-django" in top.fix
    assert "tox.ini:4" in top.fix
    assert not [f for f in report.findings if f.code == "BA406"]
    assert not any("site-packages" in f.fix for f in report.findings)


def test_plugin_that_imports_the_app_at_load_time_is_the_root_cause() -> None:
    plug = plugin("earlybird", "earlybird", prefix=T, distribution="earlybird")
    timeline = [
        {
            "module": "app.tasks",
            "phase": "plugin-load",
            "importer": "earlybird",
            "importer_file": plug["file"],
            "importer_line": 3,
        },
    ]
    base = make_snapshot(prefix=B, origins=APP)
    target = make_snapshot(
        prefix=T, origins=APP, plugins=[plug], timeline=timeline, dists=dists(T, dist("earlybird", prefix=T))
    )
    report = diagnose(base, target, tox=TOX)
    top = report.findings[0]
    assert (top.code, top.subject, top.severity) == ("BA401", "earlybird", "error")
    assert "move the import of app.tasks out of the plugin's top level" in top.fix
    assert any(f.code == "BA406" and f.id in top.explains for f in report.findings)
    pkg = next(f for f in report.findings if f.code == "BA202")
    assert pkg.severity == "info"  # the same cause, reported (and fixed) as BA401


def test_missing_pytest_env_explains_the_ignored_ini_option() -> None:
    plug = plugin("env", "pytest_env.plugin", prefix=B, distribution="pytest-env")
    base = make_snapshot(prefix=B, plugins=[plug], dists=dists(B, dist("pytest-env", "1.1", prefix=B)))
    target = make_snapshot(prefix=T, pytest={"unknown_ini_keys": ["env"]})
    report = diagnose(base, target, tox=TOX, env_name="py312")
    top = report.findings[0]
    assert (top.code, top.subject) == ("BA401", "pytest-env")
    assert "add pytest-env to deps" in top.fix
    ini = next(f for f in report.findings if f.code == "BA405")
    assert ini.id in top.explains
    assert "pytest-env" in ini.fix


def test_python_m_pytest_vs_script_with_a_cwd_only_module() -> None:
    helper = origin("helper", f"{PROJECT}/helper.py", in_project=True)
    base = make_snapshot(prefix=B, invocation="python-m", origins=[*APP, helper])
    target = make_snapshot(
        prefix=T,
        origins=APP,
        pytest={
            "collection_errors": [
                {"nodeid": "tests/test_h.py", "message": "E   ModuleNotFoundError: No module named 'helper'"}
            ]
        },
    )
    report = diagnose(base, target)
    top = report.findings[0]
    assert (top.code, top.subject) == ("BA305", PROJECT)
    assert top.root_cause
    explained = {f.code for f in report.findings if f.id in top.explains}
    assert {"BA502", "BA902"} <= explained
    assert "python -m pytest" in top.detail


def test_different_ini_file_explains_the_addopts_change() -> None:
    base = make_snapshot(
        prefix=B, pytest={"inifile": f"{PROJECT}/pytest.ini", "addopts": ["-p", "no:randomly"]}
    )
    target = make_snapshot(prefix=T, pytest={"inifile": f"{PROJECT}/tox.ini", "addopts": []})
    report = diagnose(base, target)
    top = report.findings[0]
    assert (top.code, top.subject) == ("BA403", "inifile")
    addopts = next(f for f in report.findings if f.subject == "addopts")
    assert addopts.id in top.explains


def test_double_import_of_an_app_module_only_under_tox_is_an_error() -> None:
    double = {"file": f"{PROJECT}/src/app/tasks.py", "names": ["app.tasks", "src.app.tasks"]}
    base = make_snapshot(prefix=B, origins=APP)
    target = make_snapshot(prefix=T, origins=APP, doubles=[double])
    report = diagnose(base, target)
    assert (report.findings[0].code, report.findings[0].severity) == ("BA501", "error")


def test_single_snapshot_mode_runs_only_single_snapshot_rules() -> None:
    target = make_snapshot(
        prefix=T,
        pytest={"collection_errors": [{"nodeid": "tests/test_a.py", "message": "boom"}]},
        errors=[{"section": "brokers", "message": "could not instrument dramatiq"}],
    )
    report = diagnose(None, target, env_name="py312")
    assert [f.code for f in report.findings] == ["BA902", "BA901"]
    assert report.baseline is None
    assert report_to_dict(report)["baseline"] == {"kind": "none", "description": "no snapshot"}


def test_ignore_codes_and_subject_globs() -> None:
    base = make_snapshot(prefix=B, env={"A_ONE": "1", "A_TWO": "2", "B": "3"})
    target = make_snapshot(prefix=T, env={"TOX_X": "1"})
    report = diagnose(base, target, ignore=["BA101:A_*", "ba102"])
    assert [f.subject for f in report.findings] == ["B"]


def test_secret_values_compare_only_with_the_same_key() -> None:
    env_b, env_t = {"API_TOKEN": "abc"}, {"API_TOKEN": "abd"}
    same = diagnose(make_snapshot(prefix=B, env=env_b), make_snapshot(prefix=T, env=env_t))
    assert same.findings[0].code == "BA103"
    assert same.findings[0].evidence["comparable"] is True
    other_key = diagnose(
        make_snapshot(prefix=B, env=env_b), make_snapshot(prefix=T, env=env_b, key=b"z" * 32)
    )
    assert other_key.findings[0].evidence["comparable"] is False
    assert "cannot compare" in other_key.findings[0].title
    assert "abc" not in repr(other_key)
    equal = diagnose(make_snapshot(prefix=B, env=env_b, key=KEY), make_snapshot(prefix=T, env=env_b, key=KEY))
    assert equal.findings == ()


def test_a_crashing_rule_becomes_a_ba903_info_finding() -> None:
    @rule(needs_baseline=False)
    def broken(ctx: DiagnosisContext) -> Iterator[Finding]:
        msg = "bug"
        raise RuntimeError(msg)
        yield  # pragma: no cover

    report = diagnose(None, make_snapshot(prefix=T), rules=[broken])
    (only,) = report.findings
    assert (only.code, only.slug, only.severity) == ("BA903", "rule-failed", "info")
    assert "bug" in only.title


def test_probe_failure_finding_is_a_ranked_ba901() -> None:
    failure = probe_failure_finding("baseline", "the probe crashed: token ghp_abcdefghijklmnopqrstuvwxyz0123")
    assert (failure.code, failure.slug, failure.subject) == ("BA901", "probe-failed", "baseline")
    assert "ghp_" not in failure.detail
    report = diagnose(None, make_snapshot(prefix=T), extra_findings=[failure])
    assert report.findings[0].id == "BA901-baseline"


def test_interpreter_and_package_differences() -> None:
    base = make_snapshot(
        prefix=B,
        version="3.11.9",
        dists=dists(B, dist("dramatiq", "1.16", prefix=B)),
        origins=[origin("dramatiq", f"{B}/x/dramatiq/__init__.py", distribution="dramatiq")],
    )
    target = make_snapshot(
        prefix=T,
        version="3.12.3",
        dists=dists(T, dist("dramatiq", "1.17", prefix=T)),
        origins=[origin("dramatiq", f"{T}/x/dramatiq/__init__.py", distribution="dramatiq")],
    )
    report = diagnose(base, target)
    codes = {f.code: f for f in report.findings}
    assert codes["BA306"].severity == "warning"
    assert codes["BA203"].severity == "warning"  # dramatiq was imported
    assert codes["BA203"].subject == "dramatiq"


def test_editable_vs_wheel_project_install_is_information_not_a_cause() -> None:
    proj_b = dist("app", "0.1", prefix=B, editable=True, source_path=PROJECT, top_level=["app"])
    proj_t = dist("app", "0.1", prefix=T, top_level=["app"])
    base = make_snapshot(prefix=B, dists=dists(B, proj_b), origins=APP)
    t_origins = [
        origin(
            o["module"], o["file"].replace(PROJECT, f"{T}/lib/python3.12/site-packages"), distribution="app"
        )
        for o in APP
    ]
    target = make_snapshot(prefix=T, dists=dists(T, proj_t), origins=t_origins)
    report = diagnose(base, target, tox=ToxFacts(package="wheel"))
    assert serious(report.findings) == []
    mode = next(f for f in report.findings if f.code == "BA204")
    assert "package = editable" in mode.fix


def test_every_builtin_code_has_a_slug() -> None:
    for code in ("BA101", "BA104", "BA204", "BA306", "BA406", "BA502", "BA605", "BA902"):
        assert CODES[code]


@pytest.mark.parametrize("fail", [True, False])
def test_rules_without_marker_do_not_run_without_baseline(fail: bool) -> None:
    calls: list[bool] = []

    def needs(ctx: DiagnosisContext) -> list[Finding]:
        calls.append(True)
        return []

    diagnose(None if fail else make_snapshot(prefix=B), make_snapshot(prefix=T), rules=[needs])
    assert calls == ([] if fail else [True])


def test_linker_breaks_mutual_links_and_ids_are_unique() -> None:
    from tox_broker_audit.diagnosis.engine import link, rank

    a = finding(
        "BA501",
        "error",
        "a",
        "m",
        "",
        "",
        about=["module:m"],
        effects_on=["module:m"],
        group="cause",
        score=9,
    )
    b = finding(
        "BA502", "warning", "b", "m", "", "", about=["module:m"], effects_on=["module:m"], group="cause"
    )
    c = finding("BA502", "info", "c", "m", "", "", about=["x"], group="other")
    assert link([a, b, c]) == [(1,), (), ()]
    ranked = rank([c, b, a])
    assert [f.title for f in ranked] == ["a", "b", "c"]
    assert [f.id for f in ranked] == ["BA501-m", "BA502-m", "BA502-m-2"]
    assert ranked[0].root_cause
    assert ranked[0].explains == ("BA502-m",)


APP_FILES = {"__init__.py": "", "broker.py": "import json\n", "tasks.py": "import dramatiq\n"}


def _install_mode_pair(target_files: dict[str, str]) -> tuple[object, object]:
    src = f"{PROJECT}/src"
    base = make_snapshot(
        prefix=B,
        dists=dists(B, dist("app", "1.0", prefix=B, editable=True, source_path=PROJECT, top_level=["app"])),
        origins=APP,
        packages=[package("app", f"{src}/app", {**APP_FILES, "defaults.json": "{}"})],
    )
    target = make_snapshot(
        prefix=T,
        dists=dists(T, dist("app", "1.0", prefix=T, top_level=["app"])),
        origins=APP,
        packages=[package("app", f"{T}/lib/python3.12/site-packages/app", target_files)],
    )
    return base, target


def test_wheel_without_package_data_is_the_cause() -> None:
    base, target = _install_mode_pair(APP_FILES)
    report = diagnose(base, target, tox=TOX)  # type: ignore[arg-type]
    top = report.findings[0]
    assert (top.code, top.subject, top.severity) == ("BA204", "app", "error")
    assert top.title == (
        "app is editable locally but a regular install under tox, "
        "and the copy under tox lacks app/defaults.json"
    )
    assert '[tool.setuptools.package-data] app = ["*.json"]' in top.fix
    assert top.evidence["missing"] == ["app/defaults.json"]
    assert "module:app.broker" in top.effects_on


def test_same_package_files_keep_install_mode_as_noise() -> None:
    base, target = _install_mode_pair({**APP_FILES, "defaults.json": "{}"})
    report = diagnose(base, target, tox=TOX)  # type: ignore[arg-type]
    mode = next(f for f in report.findings if f.code == "BA204")
    assert (mode.severity, mode.group) == ("info", "other")
    assert serious(report.findings) == []


def test_stale_installed_copy_is_reported() -> None:
    base, target = _install_mode_pair({**APP_FILES, "defaults.json": "{}", "broker.py": "import os\n"})
    report = diagnose(base, target, tox=TOX)  # type: ignore[arg-type]
    top = report.findings[0]
    assert (top.code, top.severity) == ("BA204", "error")
    assert top.evidence["changed"] == ["app/broker.py"]
    assert top.title.endswith(", and app/broker.py differs under tox")


def test_one_sided_module_spreads_to_its_importers_only() -> None:
    base = make_snapshot(
        prefix=B,
        origins=[*APP, origin("local_settings", f"{PROJECT}/local_settings.py", in_project=True)],
        timeline=[
            event("app.tasks", "test_x"),
            event("app.broker", "app.tasks"),
            event("local_settings", "app.broker"),
        ],
    )
    target = make_snapshot(
        prefix=T, origins=APP, timeline=[event("app.tasks", "test_x"), event("app.broker", "app.tasks")]
    )
    cause = finding(
        "BA305", "warning", "t", "s", "d", "f", effects_on=["module:local_settings"], group="cause"
    )
    other = finding("BA502", "info", "t", "s", "d", "f", effects_on=["module:app.tasks"], group="other")
    spread, untouched = propagate_imports([cause, other], base, target)
    assert spread.effects_on == (
        "module:app.broker",
        "module:app.tasks",
        "module:local_settings",
        "module:test_x",
    )
    # A module present on both sides does not spread, nor does a non-cause finding.
    assert untouched.effects_on == ("module:app.tasks",)


def test_variable_read_before_its_setter_ran_is_explained_by_the_early_import() -> None:
    conftest = f"{PROJECT}/tests/conftest.py"
    write = {
        "name": "APP_TESTING",
        "how": "setitem",
        "phase": "conftest",
        "file": conftest,
        "line": 3,
        "module": "conftest",
        "value": "1",
    }
    boot = pth("boot.pth", prefix=T, exec_lines=["import app.broker"], imported=["app", "app.broker"])
    base = make_snapshot(
        prefix=B,
        env={},
        writes=[write],
        reads=[read("APP_TESTING", f"{PROJECT}/app/broker.py", module="app.broker", present=True)],
        origins=APP,
    )
    target = make_snapshot(
        prefix=T,
        env={},
        writes=[write],
        pth_files=[boot],
        reads=[
            read(
                "APP_TESTING", f"{PROJECT}/app/broker.py", module="app.broker", present=False, phase="startup"
            )
        ],
        origins=APP,
    )
    report = diagnose(base, target)
    by_code = {f.code: f for f in report.findings}
    late = by_code["BA101"]
    assert late.title == (
        "APP_TESTING is read in the target at interpreter start-up, before tests/conftest.py:3 "
        "while conftest.py files loaded sets it"
    )
    assert "module:app.broker" in late.about
    assert late.id in by_code["BA301"].explains
    assert report.findings[0].code == "BA301"
    assert not late.root_cause


def test_warning_root_of_an_error_is_escalated_only_in_a_comparison() -> None:
    def cause(ctx: DiagnosisContext) -> Iterator[Finding]:
        yield finding(
            "BA303", "warning", "c", "sitecustomize", "d", "f", effects_on=["broker:X"], group="cause"
        )

    def effect(ctx: DiagnosisContext) -> Iterator[Finding]:
        yield finding("BA602", "error", "e", "RabbitmqBroker", "d", "f", about=["broker:X"], group="cause")

    cause.needs_baseline = False  # type: ignore[attr-defined]
    effect.needs_baseline = False  # type: ignore[attr-defined]
    snap = make_snapshot(prefix=B)
    compared = diagnose(snap, snap, rules=[cause, effect])
    alone = diagnose(None, snap, rules=[cause, effect])
    for report, expected in ((compared, "error"), (alone, "warning")):
        top = report.findings[0]
        assert (top.code, top.root_cause, top.severity) == ("BA303", True, expected)
        assert top.explains == (report.findings[1].id,)


def test_installed_copy_is_named_by_its_source_file() -> None:
    """Under tox the reader runs from site-packages; the report names the file the user edits."""
    installed = f"{T}/lib/python3.12/site-packages/app"
    base = make_snapshot(
        prefix=B,
        env={"UNIT_TESTS": "1"},
        reads=[read("UNIT_TESTS", f"{PROJECT}/src/app/broker.py", module="app.broker", line=7)],
        origins=APP,
        packages=[package("app", f"{PROJECT}/src/app", APP_FILES)],
    )
    target = make_snapshot(
        prefix=T,
        env={},
        reads=[read("UNIT_TESTS", f"{installed}/broker.py", module="app.broker", line=7, present=False)],
        origins=APP,
        packages=[package("app", installed, APP_FILES)],
    )
    top = diagnose(base, target, tox=TOX).findings[0]
    assert (top.code, top.subject) == ("BA101", "UNIT_TESTS")
    assert top.evidence["summary"].startswith("read by src/app/broker.py:7 during collection")


def test_a_variable_the_run_sets_itself_is_no_shell_difference() -> None:
    """pytest-django sets DJANGO_SETTINGS_MODULE from its ini option during plugin load (the
    write trace shows it): that it was also in the local start environment is not a cause."""
    django = f"{T}/lib/python3.12/site-packages/pytest_django/plugin.py"
    write = {
        "name": "DJANGO_SETTINGS_MODULE",
        "how": "setitem",
        "phase": "plugin-load",
        "file": django,
        "line": 351,
        "module": "pytest_django.plugin",
        "value": "app.settings",
    }
    reader = read("DJANGO_SETTINGS_MODULE", f"{PROJECT}/app/broker.py", module="app.broker", present=True)
    base = make_snapshot(
        prefix=B, env={"DJANGO_SETTINGS_MODULE": "app.settings"}, reads=[reader], origins=APP
    )
    target = make_snapshot(prefix=T, env={}, writes=[write], reads=[reader], origins=APP)
    report = diagnose(
        base, target, tox=ToxFacts(ini_path="/p/tox.ini", ini_section="testenv", section_line=1)
    )
    (ba101,) = [f for f in report.findings if f.code == "BA101"]
    assert (ba101.severity, ba101.group) == ("info", "other")
    assert "the run sets it itself" in ba101.title
    assert "pytest_django/plugin.py:351" in ba101.title
    assert not [f for f in report.findings if f.severity in ("error", "warning")]
    # ... but a read before the run's own write still is a difference.
    early = read("DJANGO_SETTINGS_MODULE", f"{PROJECT}/app/broker.py", module="app.broker", present=False)
    target = make_snapshot(prefix=T, env={}, writes=[write], reads=[early, reader], origins=APP)
    (ba101,) = [f for f in diagnose(base, target).findings if f.code == "BA101"]
    assert ba101.severity == "error"


def test_a_secret_variable_reads_plainly_in_the_title() -> None:
    reader = read("API_TOKEN", f"{PROJECT}/app/broker.py", module="app.broker", present=True)
    base = make_snapshot(prefix=B, env={"API_TOKEN": "s3cr3t-value"}, reads=[reader], origins=APP)
    target = make_snapshot(prefix=T, env={}, reads=[{**reader, "present": False}], origins=APP)
    (ba101,) = [f for f in diagnose(base, target, env_name="py").findings if f.code == "BA101"]
    assert ba101.title == "API_TOKEN is set locally (secret, value hidden) but tox does not pass it into py"
    assert "s3cr3t" not in repr(ba101)


def test_a_fix_never_points_into_installed_packages_or_an_env() -> None:
    """A rule may locate a finding where code ran (site-packages, .tox, .venv); the report's
    location — where the user is sent to change something — never goes there."""

    @rule(needs_baseline=False)
    def located(ctx: DiagnosisContext) -> Iterator[Finding]:
        for path in (
            f"{T}/lib/python3.12/site-packages/django/apps/registry.py",
            "/proj/.venv/lib/python3.12/site-packages/x.pth",
            f"{PROJECT}/app/broker.py",
        ):
            yield finding("BA406", "warning", path, path, "d", "f", location=Location(path, 3), group="cause")

    report = diagnose(None, make_snapshot(prefix=T), rules=[located])
    kept = {f.subject: f.location for f in report.findings}
    assert kept[f"{PROJECT}/app/broker.py"] == Location(f"{PROJECT}/app/broker.py", 3)
    assert [s for s, loc in kept.items() if loc is not None] == [f"{PROJECT}/app/broker.py"]


def test_a_collection_crash_on_one_side_comes_first_and_explains_what_it_never_reached() -> None:
    """A settings module raises KeyError for a variable tox does not pass: pytest stops before
    collecting under tox. The variable is the root cause, the crash its first effect, and the
    ini file, rootdir and conftest that run never reached are effects too — not causes."""
    reader = read(
        "LEDGER_DB_NAME", f"{PROJECT}/settings.py", module="settings", phase="conftest", how="getitem"
    )
    base = make_snapshot(prefix=B, env={"LEDGER_DB_NAME": "ledger_test"}, reads=[reader], origins=APP)
    crashed = {
        "rootdir": None,
        "inifile": None,
        "import_mode": None,
        "conftests": [],
        "exit_code": 4,
        "crash": "KeyError: 'LEDGER_DB_NAME'",
    }
    target = make_snapshot(prefix=T, env={}, reads=[{**reader, "present": False}], pytest=crashed)
    report = diagnose(base, target, env_name="py")
    top = report.findings[0]
    assert (top.code, top.subject, top.root_cause) == ("BA101", "LEDGER_DB_NAME", True)
    crash = next(f for f in report.findings if f.code == "BA902")
    assert crash.title == "pytest could not collect under tox (py): KeyError: 'LEDGER_DB_NAME'"
    assert crash.id in top.explains
    assert [f.id for f in report.findings if f.root_cause] == [top.id]
    ini = next(f for f in report.findings if f.code == "BA403" and f.subject == "inifile")
    assert ini.id in crash.explains
    # Without the variable's finding (nothing read it locally), the crash itself is on top.
    alone = diagnose(make_snapshot(prefix=B, origins=APP), make_snapshot(prefix=T, pytest=crashed))
    assert (alone.findings[0].code, alone.findings[0].subject) == ("BA902", "collection")


def test_a_local_crash_on_a_passing_env_is_information_and_mutes_what_it_never_reached() -> None:
    """django_dramatiq's shape: tox's set_env PYTHONPATH={toxinidir} lets Django import
    tests.settings; the env's command run in the developer's venv crashes while plugins load
    (No module named 'tests'). The env passed: nothing here is a warning, and the differences
    the crashed run never reached (ini file, app imports) are not errors under tox."""
    crashed = {
        "rootdir": None,
        "inifile": None,
        "import_mode": None,
        "conftests": [],
        "exit_code": None,
        "crash": "ImportError: No module named 'tests'",
    }
    base = make_snapshot(
        prefix=B,
        pytest=crashed,
        plugins=[plugin("django", "pytest_django.plugin", prefix=B, distribution="pytest-django")],
    )
    timeline = [
        {
            "module": "app.tasks",
            "phase": "plugin-load",
            "importer": "django.apps.config",
            "importer_file": f"{T}/lib/python3.12/site-packages/django/apps/config.py",
            "importer_line": 111,
            "via": ["django.apps.registry", "django", "pytest_django.plugin"],
        },
    ]
    plug = plugin("django", "pytest_django.plugin", prefix=T, distribution="pytest-django")
    target = make_snapshot(prefix=T, origins=APP, timeline=timeline, plugins=[plug])
    failed = diagnose(base, target, env_name="py", tox=TOX)
    crash = next(f for f in failed.findings if f.code == "BA902")
    assert crash.severity == "warning"  # the comparison is blind past that point; not the env's failure
    early = next(f for f in failed.findings if f.code == "BA406")
    assert early.severity == "info"
    assert early.id in crash.explains
    assert "site-packages" not in early.fix
    assert "pytest_django.plugin" in early.title
    passed = diagnose(base, target, env_name="py", tox=TOX, outcome="passed")
    assert passed.outcome == "passed"
    assert [f.code for f in passed.findings if f.severity != "info"] == []
    assert not [f for f in passed.findings if f.group == "cause" and f.root_cause]
    text = render(passed, "terminal")
    assert "nothing that could break broker isolation differs" in text
    assert (
        "note: pytest could not collect locally: ImportError: No module named 'tests'; "
        "the comparison could not see past that point"
    ) in text


def test_an_optional_dependency_the_code_tolerates_is_not_a_cause() -> None:
    """redis imports hiredis when it is there (``try: import hiredis / except ImportError``):
    hiredis installed locally only, and redis loading fine without it under tox, is no cause."""
    dists_b = [
        dist("redis", "5.0", prefix=B, top_level=["redis"]),
        dist("hiredis", "2.3", prefix=B, top_level=["hiredis"]),
    ]
    dists_t = [dist("redis", "5.0", prefix=T, top_level=["redis"])]
    timeline = [event("redis", "app.broker"), event("redis.connection", "redis")]
    base = make_snapshot(prefix=B, dists=dists_b, timeline=[*timeline, event("hiredis", "redis.connection")])
    target = make_snapshot(prefix=T, dists=dists_t, timeline=timeline)
    (ba201,) = [f for f in diagnose(base, target).findings if f.code == "BA201"]
    assert (ba201.severity, ba201.group) == ("info", "other")
    assert "optional dependency" in ba201.title
    # ... but when its importer did not load under tox, the absence is a cause.
    target = make_snapshot(prefix=T, dists=dists_t, timeline=[event("redis", "app.broker")])
    (ba201,) = [f for f in diagnose(base, target).findings if f.code == "BA201"]
    assert (ba201.severity, ba201.group) == ("warning", "cause")
    # ... or when the collection under tox failed for want of it (or one of its modules);
    # another module that only starts with its name does not count
    for missing, cause in (("hiredis.parser", True), ("hiredis_extra", False)):
        error = {"nodeid": "tests/t.py", "message": f"E   ModuleNotFoundError: No module named '{missing}'"}
        target = make_snapshot(
            prefix=T, dists=dists_t, timeline=timeline, pytest={"collection_errors": [error]}
        )
        (ba201,) = [f for f in diagnose(base, target).findings if f.code == "BA201"]
        assert (ba201.group == "cause") is cause, missing
