"""Harmless start-up and packaging differences, as classes (issue 20), on hand-built snapshots.

Each class has its green case and the members that must still be reported: a namespace
``.pth`` that also imports application code, the project's editable ``.pth`` exposing a
module its wheel lacks, a dependency whose requirer is the same on both sides.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from _snapshot_factory import PROJECT, SP, dist, make_snapshot, origin, plugin, pth
from tox_broker_audit.diagnosis.engine import diagnose
from tox_broker_audit.diagnosis.model import Finding, Report
from tox_broker_audit.snapshot.capture import PROBE_SCRIPT

B, T = "/proj/.venv", "/proj/.tox/py"
APP = [
    origin("app", f"{PROJECT}/app/__init__.py", in_project=True),
    origin("app.tasks", f"{PROJECT}/app/tasks.py", in_project=True),
]
NSPKG = (
    "import sys, types, os;has_mfs = sys.version_info > (3, 5);p = os.path.join(sys._getframe(1)"
    ".f_locals['sitedir'], *('{ns}',));importlib = has_mfs and __import__('importlib.util');has_mfs "
    "and __import__('importlib.machinery');m = has_mfs and sys.modules.setdefault('{ns}', importlib.util"
    ".module_from_spec(importlib.machinery.PathFinder.find_spec('{ns}', [os.path.dirname(p)])));m = m or "
    "sys.modules.setdefault('{ns}', types.ModuleType('{ns}'));mp = (m or []) and m.__dict__.setdefault("
    "'__path__',[]);(p not in mp) and mp.append(p)"
)


def base_dists(prefix: str, *extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        dist("pytest", "8.3.0", prefix=prefix, top_level=["pytest", "_pytest", "py"]),
        dist("pluggy", "1.5.0", prefix=prefix),
        *extra,
    ]


def loud(report: Report) -> list[str]:
    return [f"{f.code} {f.severity} {f.subject}: {f.title}" for f in report.findings if f.severity != "info"]


def one(report: Report, code: str, subject: str) -> Finding:
    return next(f for f in report.findings if (f.code, f.subject) == (code, subject))


# --- 1. a .pth that only declares namespace packages ------------------------------------------


def _nspkg_pair(name: str, *, line: str, imported: list[str], known: str | None) -> Report:
    base = make_snapshot(
        prefix=B,
        dists=base_dists(B, dist("sphinxcontrib-htmlhelp", "2.0.0", prefix=B, top_level=["sphinxcontrib"])),
        pth_files=[pth(name, prefix=B, exec_lines=[line], imported=imported, known=known)],
        origins=[*APP, origin("sphinxcontrib", None, distribution="sphinxcontrib-htmlhelp")],  # type: ignore[arg-type]
    )
    return diagnose(base, make_snapshot(prefix=T, dists=base_dists(T), origins=APP))


def test_a_nspkg_pth_and_the_namespace_it_makes_are_no_cause() -> None:
    report = _nspkg_pair(
        "sphinxcontrib_htmlhelp-2.0.0-py3.9-nspkg.pth",
        line=NSPKG.format(ns="sphinxcontrib"),
        imported=["sphinxcontrib"],
        known="namespace-package",
    )
    assert loud(report) == []
    missing = one(report, "BA201", "sphinxcontrib-htmlhelp")
    assert missing.evidence["imported"] is False
    assert (missing.severity, missing.group) == ("info", "other")


def test_namespace_boilerplate_is_recognised_by_what_it_does_not_its_name() -> None:
    report = _nspkg_pair(
        "docs_theme.pth", line=NSPKG.format(ns="sphinxcontrib"), imported=["sphinxcontrib"], known=None
    )
    assert loud(report) == []
    pth_finding = one(report, "BA301", "docs_theme.pth")
    assert "namespace" in pth_finding.detail
    assert pth_finding.fix.startswith("nothing to do")


@pytest.mark.parametrize(
    ("name", "line", "known"),
    [
        (
            "evil-nspkg.pth",
            "import sys, types, os; import app.tasks; sys.modules.setdefault('x', types.ModuleType('x'))",
            "namespace-package",
        ),
        ("ns.pth", NSPKG.format(ns="sphinxcontrib") + ";__import__('app.tasks')", None),
    ],
)
def test_a_namespace_looking_pth_that_imports_app_code_is_still_the_cause(
    name: str, line: str, known: str | None
) -> None:
    report = _nspkg_pair(name, line=line, imported=["app", "app.tasks", "sphinxcontrib"], known=known)
    top = report.findings[0]
    assert (top.code, top.subject, top.severity) == ("BA301", name, "error")


def test_the_projects_own_namespace_declared_by_a_pth_is_not_an_app_import() -> None:
    app = [
        origin("acme", None, in_project=False),
        origin("acme.billing", f"{PROJECT}/acme/billing/__init__.py", in_project=True),
    ]  # type: ignore[arg-type]
    base = make_snapshot(
        prefix=B,
        pth_files=[
            pth(
                "acme_common-1.0-nspkg.pth", prefix=B, exec_lines=[NSPKG.format(ns="acme")], imported=["acme"]
            )
        ],
        origins=app,
    )
    report = diagnose(base, make_snapshot(prefix=T, origins=app))
    assert loud(report) == []


def _zope_pair(imported: list[str]) -> Report:
    zope = [
        dist("zope-interface", "6.0", prefix=B, top_level=["zope"]),
        dist("zope-event", "5.0", prefix=B, top_level=["zope"]),
    ]
    origins = [
        origin("zope", None),  # type: ignore[arg-type]
        *(
            origin(m, f"{B}/{SP}/{m.replace('.', '/')}/__init__.py", distribution="zope-interface")
            for m in imported
        ),
    ]
    base = make_snapshot(prefix=B, dists=base_dists(B, *zope), origins=[*APP, *origins])
    target = make_snapshot(
        prefix=T,
        dists=base_dists(T, dist("zope-interface", "6.0", prefix=T, top_level=["zope"])),
        origins=[*APP, *(o | {"file": o["file"].replace(B, T)} if o["file"] else o for o in origins)],
    )
    return diagnose(base, target)


def test_a_shared_namespace_does_not_make_every_distribution_in_it_imported() -> None:
    report = _zope_pair(["zope.interface"])  # zope-event's code never ran
    assert loud(report) == []
    assert one(report, "BA201", "zope-event").evidence["imported"] is False


def test_a_submodule_of_a_shared_namespace_still_counts_for_its_own_distribution() -> None:
    report = _zope_pair(["zope.interface", "zope.event"])
    missing = one(report, "BA201", "zope-event")
    assert (missing.severity, missing.group) == ("warning", "cause")


# --- 2. the project's own editable install --------------------------------------------------

FLAT = [origin("crontab", f"{PROJECT}/crontab/__init__.py", in_project=True)]
SRC = [origin("crontab", f"{PROJECT}/src/crontab/__init__.py", in_project=True)]
WHEEL = [origin("crontab", f"{T}/{SP}/crontab/__init__.py", in_project=True, distribution="crontab")]

#: (back-end, .pth name, path lines, exec lines, what it imported, origins locally)
BACKENDS = [
    ("flit", "crontab.pth", [PROJECT], [], [], FLAT),
    ("uv", "crontab.pth", [f"{PROJECT}/src"], [], [], SRC),
    ("pdm", "crontab.pth", [f"{PROJECT}/src"], [], [], SRC),
    ("hatch", "_crontab.pth", [f"{PROJECT}/src"], [], [], SRC),
    (
        "hatch-editables",
        "_editable_impl_crontab.pth",
        [],
        ["import _editable_impl_crontab"],
        ["_editable_impl_crontab", "editables", "editables.redirector"],
        SRC,
    ),
    ("setuptools-path", "__editable__.crontab-1.0.pth", [f"{PROJECT}/src"], [], [], SRC),
    (
        "setuptools-finder",
        "__editable__.crontab-1.0.pth",
        [],
        ["import __editable___crontab_1_0_finder; __editable___crontab_1_0_finder.install()"],
        ["__editable___crontab_1_0_finder"],
        SRC,
    ),
]


def _editable_pair(
    name: str,
    paths: list[str],
    lines: list[str],
    imported: list[str],
    local: list[dict[str, Any]],
    *,
    tox_has_it: bool = True,
) -> Report:
    mine = dist("crontab", "1.0", prefix=B, editable=True, source_path=PROJECT, top_level=[])
    base = make_snapshot(
        prefix=B,
        dists=base_dists(B, mine),
        pth_files=[pth(name, prefix=B, path_lines=paths, exec_lines=lines, imported=imported)],
        origins=local,
    )
    wheel = [dist("crontab", "1.0", prefix=T, top_level=["crontab"])] if tox_has_it else []
    target = make_snapshot(prefix=T, dists=base_dists(T, *wheel), origins=WHEEL if tox_has_it else [])
    return diagnose(base, target)


@pytest.mark.parametrize("case", BACKENDS, ids=[b[0] for b in BACKENDS])
def test_the_projects_editable_pth_is_no_cause_when_tox_installs_the_same_distribution(
    case: tuple[Any, ...],
) -> None:
    backend, name, paths, lines, imported, local = case
    report = _editable_pair(name, paths, lines, imported, local)
    assert loud(report) == [], backend
    pth_finding = next(f for f in report.findings if f.subject == name)
    assert pth_finding.fix.startswith("nothing to do"), pth_finding.fix
    assert pth_finding.location is None  # never a fix into site-packages


def test_a_module_only_the_editable_checkout_provides_is_still_a_cause() -> None:
    helper = origin("helper", f"{PROJECT}/helper.py", in_project=True)
    report = _editable_pair("crontab.pth", [PROJECT], [], [], [*FLAT, helper])
    found = one(report, "BA302", "crontab.pth")
    assert (found.severity, found.group) == ("warning", "cause")
    assert "helper" in found.title + found.detail + found.fix
    assert "that crontab does not provide in the target: helper." in found.detail


def test_an_editable_pth_whose_distribution_tox_lacks_is_still_a_cause() -> None:
    report = _editable_pair("crontab.pth", [PROJECT], [], [], FLAT, tox_has_it=False)
    assert one(report, "BA302", "crontab.pth").severity == "warning"


def test_a_pth_named_like_the_project_that_imports_its_code_is_still_the_cause() -> None:
    lines = ["import crontab.tasks"]
    local = [*SRC, origin("crontab.tasks", f"{PROJECT}/src/crontab/tasks.py", in_project=True)]
    report = _editable_pair("_crontab.pth", [], lines, ["crontab", "crontab.tasks"], local)
    found = one(report, "BA301", "_crontab.pth")
    assert found.severity == "error"


# --- 3. a dependency of a reported distribution ---------------------------------------------


def test_a_dependency_of_a_tox_only_plugin_is_part_of_its_finding() -> None:
    xdist = dist("pytest-xdist", "3.8.0", prefix=T, top_level=["xdist"], requires=["execnet", "pytest"])
    execnet = dist("execnet", "2.1.2", prefix=T, top_level=["execnet"])
    target = make_snapshot(
        prefix=T,
        dists=base_dists(T, xdist, execnet),
        plugins=[plugin("xdist", "xdist.plugin", prefix=T, distribution="pytest-xdist")],
        origins=[*APP, origin("execnet", f"{T}/{SP}/execnet/__init__.py", distribution="execnet")],
    )
    report = diagnose(make_snapshot(prefix=B, origins=APP), target)
    assert loud(report) == []
    dep = one(report, "BA202", "execnet")
    assert (dep.group, dep.evidence["required_by"]) == ("other", "pytest-xdist")
    assert "pytest-xdist" in dep.title
    carrier = one(report, "BA202", "pytest-xdist")
    assert "execnet 2.1.2" in carrier.detail
    assert carrier.evidence["brings"] == ["execnet"]


def _chain_pair(*, imported: list[str], requires: bool = True) -> Report:
    celery = dist("celery", "5.4", prefix=T, requires=["kombu"] if requires else [])
    kombu = dist("kombu", "5.4", prefix=T, requires=["amqp", "vine"])
    amqp = dist("amqp", "5.2", prefix=T)
    origins = [origin(m, f"{T}/{SP}/{m}/__init__.py", distribution=m) for m in imported]
    target = make_snapshot(prefix=T, dists=base_dists(T, celery, kombu, amqp), origins=[*APP, *origins])
    return diagnose(make_snapshot(prefix=B, origins=APP), target)


def test_a_chain_of_dependencies_folds_into_the_distribution_that_pulled_it_in() -> None:
    report = _chain_pair(imported=["amqp"])  # only the innermost dependency's code ran
    serious = [f for f in report.findings if f.severity != "info"]
    assert [(f.code, f.subject) for f in serious] == [("BA202", "celery")]
    assert serious[0].evidence["brings"] == ["amqp", "kombu"]
    for name in ("kombu", "amqp"):
        assert one(report, "BA202", name).evidence["required_by"] == "celery"


def test_the_chain_stops_where_the_requirement_does() -> None:
    report = _chain_pair(imported=["amqp"], requires=False)  # celery no longer requires kombu
    assert one(report, "BA202", "amqp").evidence["required_by"] == "kombu"
    assert one(report, "BA202", "kombu").severity == "warning"  # amqp's import is kombu's now
    assert one(report, "BA202", "celery").severity == "info"


def test_a_dependency_whose_requirer_is_the_same_on_both_sides_stays_its_own_finding() -> None:
    lib = dist("lib", "1.0", requires=["extra-thing"])
    base = make_snapshot(prefix=B, dists=base_dists(B, lib | {"location": f"{B}/{SP}"}), origins=APP)
    target = make_snapshot(
        prefix=T,
        dists=base_dists(T, lib | {"location": f"{T}/{SP}"}, dist("extra-thing", "1.0", prefix=T)),
        origins=[
            *APP,
            origin("extra_thing", f"{T}/{SP}/extra_thing/__init__.py", distribution="extra-thing"),
        ],
    )
    found = one(diagnose(base, target), "BA202", "extra-thing")
    assert (found.severity, found.group) == ("warning", "cause")


def test_a_dependency_a_new_version_pulled_in_is_part_of_the_version_finding() -> None:
    old = dist("requests", "2.25.0", prefix=B, requires=["chardet"])
    new = dist("requests", "2.32.0", prefix=T, requires=["charset-normalizer"])
    base = make_snapshot(prefix=B, dists=base_dists(B, old, dist("chardet", "4.0", prefix=B)), origins=APP)
    target = make_snapshot(
        prefix=T,
        dists=base_dists(T, new, dist("charset-normalizer", "3.3", prefix=T)),
        origins=[*APP, origin("charset_normalizer", f"{T}/{SP}/charset_normalizer/__init__.py")],
    )
    report = diagnose(base, target)
    assert one(report, "BA202", "charset-normalizer").evidence["required_by"] == "requests"
    assert one(report, "BA201", "chardet").evidence["required_by"] == "requests"
    assert "charset-normalizer 3.3" in one(report, "BA203", "requests").detail
    assert loud(report) == []


def test_the_probe_records_requires_dist_names() -> None:
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(PROBE_SCRIPT.parent)!r})\n"
        "from _tba_dists import distributions\n"
        "print(json.dumps({d['name']: d['requires'] for d in distributions(sys.argv[1:])}))\n"
    )
    import sysconfig

    site = sysconfig.get_paths()["purelib"]
    out = subprocess.run([sys.executable, "-S", "-c", code, site], capture_output=True, text=True, check=True)
    requires = json.loads(out.stdout)
    assert "pluggy" in requires["pytest"]
    assert "iniconfig" in requires["pytest"]
    # An extra's requirements (pytest[dev]: hypothesis, xmlschema) pulled nothing in by themselves.
    assert "hypothesis" not in requires["pytest"], requires["pytest"]
    assert "xmlschema" not in requires["pytest"], requires["pytest"]
    assert all(r == r.lower() and "_" not in r for names in requires.values() for r in names)


def test_a_plugin_or_seed_a_distribution_brings_does_not_make_it_a_cause() -> None:
    """tox-broker-audit's own deps in a dev venv: tox brings platformdirs (a pytest plugin,
    BA401's) and setuptools lists pip among its extras; neither makes its carrier loud."""
    tox = dist("tox", "4.0", prefix=B, requires=["platformdirs", "pip"])
    dirs = dist("platformdirs", "4.0", prefix=B)
    base = make_snapshot(
        prefix=B,
        dists=base_dists(B, tox, dirs, dist("pip", "24.0", prefix=B)),
        plugins=[plugin("platformdirs", "platformdirs", prefix=B, distribution="platformdirs")],
        origins=[
            *APP,
            origin("platformdirs", f"{B}/{SP}/platformdirs/__init__.py", distribution="platformdirs"),
        ],
    )
    report = diagnose(base, make_snapshot(prefix=T, origins=APP))
    assert one(report, "BA201", "tox").severity == "info"
    assert one(report, "BA201", "platformdirs").evidence["required_by"] == "tox"
    pip = one(report, "BA201", "pip")
    assert (pip.group, pip.evidence.get("required_by")) == ("expected", None)
