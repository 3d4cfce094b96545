"""Relocatable comparison (snapshot/anchors.py, diff.py): the same project elsewhere is no difference."""

from __future__ import annotations

import dataclasses
import json

from _snapshot_factory import KEY, PROJECT, dist, make_snapshot, origin, plugin
from tox_broker_audit.diagnosis.engine import diagnose
from tox_broker_audit.diagnosis.model import DiagnosisContext, Location, ToxFacts
from tox_broker_audit.diagnosis.rules._common import facts
from tox_broker_audit.diff import diff_snapshots
from tox_broker_audit.snapshot.anchors import (
    anchors_of,
    in_project,
    in_stdlib,
    is_installed,
    is_own_file,
    project_roots,
)
from tox_broker_audit.snapshot.io import snapshot_from_dict, snapshot_to_dict
from tox_broker_audit.snapshot.model import Snapshot
from tox_broker_audit.snapshot.reference import as_reference
from tox_broker_audit.verify.symptom import symptom_of

HOME = "/home/u"
TOX_ENV = f"{PROJECT}/.tox/py"


def _tox_snapshot(**kwargs: object) -> Snapshot:
    env = {"HOME": HOME, "TOX_WORK_DIR": f"{PROJECT}/.tox", "VIRTUAL_ENV": TOX_ENV, "CACHE": f"{HOME}/.cache"}
    snap = make_snapshot(
        prefix=TOX_ENV,
        env=env,
        origins=[origin("app.tasks", f"{TOX_ENV}/lib/python3.12/site-packages/app/tasks.py")],
        plugins=[plugin("randomly", "pytest_randomly", prefix=TOX_ENV, distribution="pytest-randomly")],
        source_kind="tox-env",
        **kwargs,  # type: ignore[arg-type]
    )
    data = snapshot_to_dict(snap)
    data["meta"]["project_root"] = PROJECT
    return snapshot_from_dict(data)


def _moved(snapshot: Snapshot, *moves: tuple[str, str], host: str | None = None) -> Snapshot:
    """The same snapshot taken elsewhere: every path under ``old`` now under ``new``."""
    text = json.dumps(snapshot_to_dict(snapshot))
    for old, new in moves:
        text = text.replace(f'"{old}', f'"{new}').replace(f":{old}", f":{new}")
    data = json.loads(text)
    if host is not None:
        data["meta"]["host"] = host
    return snapshot_from_dict(data)


def test_anchors_take_the_most_specific_root() -> None:
    anchors = anchors_of(_tox_snapshot())
    assert (
        anchors.path(f"{TOX_ENV}/lib/python3.12/site-packages/x.py")
        == "<prefix>/lib/python3.12/site-packages/x.py"
    )
    assert anchors.path(f"{PROJECT}/.tox/.tmp/x") == "<toxworkdir>/.tmp/x"
    assert anchors.path(f"{PROJECT}/tests/conftest.py") == "<project>/tests/conftest.py"
    assert anchors.path(f"{HOME}/.cache/pip") == "<home>/.cache/pip"
    assert anchors.path("/usr/lib/python3.12/os.py") == "<base>/lib/python3.12/os.py"
    assert anchors.path("/opt/other") == "/opt/other"
    assert anchors.value(f"{TOX_ENV}/bin:/usr/bin") == "<prefix>/bin:<base>/bin"
    assert anchors.value("not a path") == "not a path"


def test_the_same_project_at_another_path_for_another_user_compares_equal() -> None:
    here = _tox_snapshot()
    there = _moved(here, (PROJECT, "/runner/work/proj"), (HOME, "/home/runner"))
    assert there.meta.project_root == "/runner/work/proj"
    assert diff_snapshots(here, there).empty
    # with fingerprints made with another key (another HOME: another cache), values compare anchored
    data = snapshot_to_dict(there)
    data["environ"]["fingerprint_key_id"] = "another"
    assert diff_snapshots(here, snapshot_from_dict(data)).empty


def test_another_install_prefix_on_another_machine_compares_equal() -> None:
    here = _tox_snapshot()
    there = _moved(here, ("/usr", "/opt/hostedtoolcache/Python/3.12.3/x64"), host="runner")
    assert diff_snapshots(here, there).empty
    same_machine = _moved(here, ("/usr", "/opt/hostedtoolcache/Python/3.12.3/x64"))
    assert [c.field for c in diff_snapshots(here, same_machine).interpreter] == ["base_prefix"]


def test_a_real_move_inside_the_project_still_differs() -> None:
    here = _tox_snapshot()
    there = _moved(_tox_snapshot(pytest={"rootdir": f"{PROJECT}/sub"}), (PROJECT, "/w/proj"))
    changes = {c.field: (c.baseline, c.target) for c in diff_snapshots(here, there).pytest_config}
    assert changes == {"rootdir": (PROJECT, "/w/proj/sub")}  # compared anchored, shown as recorded


def test_a_reference_is_named_and_never_called_locally() -> None:
    reference = as_reference(_tox_snapshot(), "ci/broker-audit/py.json")
    assert reference.meta.source.kind == "reference"
    assert reference.meta.source.description == (
        "the reference ci/broker-audit/py.json (saved 2024-01-01, Python 3.12.3)"
    )
    now = _moved(_tox_snapshot(version="3.13.0"), (PROJECT, "/w/proj"), (HOME, "/home/runner"))
    report = diagnose(reference, now, env_name="py")
    assert report.baseline is not None
    assert report.baseline.kind == "reference"
    titles = [f.title for f in report.findings]
    assert "Python changed from 3.12.3 to 3.13.0 since the reference" in titles
    assert not [t for t in titles if "locally" in t]
    python = next(f for f in report.findings if f.subject == "python")
    assert python.severity == "warning"
    patch = diagnose(
        reference,
        dataclasses.replace(now, interpreter=dataclasses.replace(now.interpreter, version="3.12.4")),
    )
    python = next(f for f in patch.findings if f.subject == "python")
    assert (python.severity, python.title) == (
        "info",
        "Python changed from 3.12.3 to 3.12.4 since the reference (a patch release)",
    )


def test_a_snapshot_of_a_local_venv_stays_local() -> None:
    local = make_snapshot(key=KEY)
    assert as_reference(local, "x.json") is local


def test_drift_is_worded_as_drift_at_the_dependency_line() -> None:
    reference = as_reference(_tox_snapshot(), "ci/broker-audit/py.json")
    data = snapshot_to_dict(_moved(_tox_snapshot(), (PROJECT, "/w/proj"), (HOME, "/home/runner")))
    prefix = "/w/proj/.tox/py"
    data["distributions"].append(
        dist("pytest-randomly", "3.16.0", prefix=prefix, top_level=["pytest_randomly"])
    )
    data["pytest"]["plugins"].append(
        plugin("randomly2", "pytest_randomly2", prefix=prefix, distribution="pytest-randomly")
    )
    now = snapshot_from_dict(data)
    deps = Location("/w/proj/tox.ini", 7)
    tox = ToxFacts(
        ini_path="/w/proj/tox.ini",
        ini_section="testenv",
        section_line=4,
        dependency_lines={"pytest-randomly": deps},
    )
    report = diagnose(reference, now, env_name="py", tox=tox)
    serious = [f for f in report.findings if f.severity in ("error", "warning")]
    assert [(f.code, f.title, f.location) for f in serious] == [
        (
            "BA401",
            "pytest-randomly 3.16.0 was added since the reference: its pytest plugin randomly2 now loads",
            deps,
        )
    ]
    assert serious[0].fix == (
        "if unintended, remove pytest-randomly from the env's dependencies; "
        "if intended, refresh the reference: `tox --broker-audit --broker-audit-save=ci/broker-audit`"
    )
    package = next(f for f in report.findings if f.code == "BA202")
    assert package.title == "pytest-randomly 3.16.0 was added since the reference"
    assert package.location == deps
    words = " ".join(f"{f.title} {f.detail} {f.fix}" for f in report.findings)
    assert "locally" not in words
    assert "local run" not in words


# --------------------------------------------------------------------------- one owner of anchoring


def test_free_text_is_anchored_by_whole_path_components() -> None:
    anchors = anchors_of(_tox_snapshot())
    message = (
        f"E   ImportError: cannot import 'x' from {TOX_ENV}/lib/python3.12/site-packages/app/x.py "
        f"(imported by {PROJECT}/tests/t.py in {PROJECT}); see {HOME}/.cache/log, /usr/lib/python3.12/os.py"
    )
    assert anchors.text(message) == (
        "E   ImportError: cannot import 'x' from <prefix>/lib/python3.12/site-packages/app/x.py "
        "(imported by tests/t.py in .); see <home>/.cache/log, <base>/lib/python3.12/os.py"
    )
    # a root is never part of a longer name, nor the tail of another path
    assert anchors.text(f"{PROJECT}2/x and /elsewhere{PROJECT}/x and {PROJECT}.bak") == (
        f"{PROJECT}2/x and /elsewhere{PROJECT}/x and {PROJECT}.bak"
    )
    # the longest root wins, also when a shorter one is a prefix of its text
    assert anchors.text(f"{PROJECT}/.tox/.tmp and {PROJECT}/.toxic") == "<toxworkdir>/.tmp and .toxic"
    assert anchors.text("no path here") == "no path here"


def test_free_text_anchors_at_the_recorded_project_root_not_the_callers() -> None:
    here = _tox_snapshot()
    there = _moved(here, (PROJECT, "/w/proj"), (HOME, "/home/runner"))
    message = "E   ModuleNotFoundError: No module named 'x' ({}/tests/t.py)"
    assert anchors_of(there, PROJECT).text(message.format("/w/proj")) == anchors_of(here).text(
        message.format(PROJECT)
    )
    # an older snapshot without a project root anchors at the one the caller gives
    data = snapshot_to_dict(here)
    data["meta"]["project_root"] = None
    old = snapshot_from_dict(data)
    assert anchors_of(old, "/w/proj").text("/w/proj/tests/t.py") == "tests/t.py"
    assert anchors_of(old).text("/w/proj/tests/t.py") == "/w/proj/tests/t.py"


def _with_collection_error(snapshot: Snapshot, root: str) -> Snapshot:
    data = snapshot_to_dict(snapshot)
    message = f"E   ImportError: boom ({root}/tests/test_x.py, {data['interpreter']['prefix']}/lib/y.py)"
    data["pytest"]["collection_errors"] = [{"nodeid": "tests/test_x.py", "message": message}]
    data["pytest"]["crash"] = f"UsageError: {root}/pytest.ini: bad"
    return snapshot_from_dict(data)


def test_the_symptom_of_a_reference_from_another_checkout_is_the_same() -> None:
    here = _with_collection_error(_tox_snapshot(), PROJECT)
    there = _moved(_tox_snapshot(), (PROJECT, "/w/proj"), (HOME, "/home/runner"))
    reference = as_reference(_with_collection_error(there, "/w/proj"), "ref.json")
    assert "/w/proj/tests/test_x.py" in reference.pytest.collection_errors[0].message
    mine, theirs = symptom_of(here, PROJECT), symptom_of(reference, PROJECT)
    assert mine == theirs
    assert mine.errors[0][2] == "E   ImportError: boom (tests/test_x.py, <prefix>/lib/y.py)"
    assert mine.crash == "UsageError: pytest.ini: bad"


def _elsewhere(*, cwd: str, rootdir: str | None, project_root: str | None) -> Snapshot:
    data = snapshot_to_dict(_moved(_tox_snapshot(), (PROJECT, "/w/proj"), (HOME, "/home/runner")))
    data["meta"].update(cwd=cwd, project_root=project_root)
    data["pytest"]["rootdir"] = rootdir
    return snapshot_from_dict(data)


def test_project_roots_honour_the_recorded_project_root() -> None:
    # a reference taken in another checkout, from its tests/ (tox's change_dir), pytest crashed
    reference = _elsewhere(cwd="/w/proj/tests", rootdir=None, project_root="/w/proj")
    assert project_roots(reference) == ("/w/proj", "/w/proj/tests")
    f = facts(DiagnosisContext(baseline=reference, target=_tox_snapshot()))
    assert f.project_roots == ("/w/proj", "/w/proj/tests", PROJECT)
    assert f.in_project("/w/proj/app/broker.py")
    assert f.in_project(f"{PROJECT}/app/broker.py")
    assert not f.in_project("/w/other/app/broker.py")


def test_the_home_and_the_filesystem_root_are_never_the_project() -> None:
    snapshot = _elsewhere(cwd="/home/runner", rootdir="/", project_root="/w/proj")
    assert project_roots(snapshot) == ("/w/proj",)


def test_envs_and_installed_packages_are_never_the_users_files() -> None:
    roots = (PROJECT,)
    for installed in (
        f"{PROJECT}/.tox/py/lib/python3.12/site-packages/app/x.py",
        f"{PROJECT}/.nox/tests/lib/python3.12/site-packages/app/x.py",
        f"{PROJECT}/.nox/tests/bin/app",
        f"{PROJECT}/venv/bin/app",
        f"{PROJECT}/.venv/bin/app",
        "/usr/lib/python3/dist-packages/app/x.py",
    ):
        assert is_installed(installed), installed
        assert not is_own_file(installed), installed
        assert not in_project(installed, roots), installed
    assert is_own_file(f"{PROJECT}/app/x.py")
    assert in_project(f"{PROJECT}/app/x.py", roots)
    assert not is_own_file("<frozen importlib._bootstrap>")
    assert not is_own_file("<project>/app/x.py")
    assert not in_project(f"{PROJECT}2/app/x.py", roots)


def test_the_stdlib_is_the_python_installation_without_its_packages() -> None:
    snapshot = _tox_snapshot()
    assert in_stdlib("/usr/lib/python3.12/os.py", snapshot)
    assert not in_stdlib("/usr/lib/python3/dist-packages/yaml/__init__.py", snapshot)
    assert not in_stdlib("/usr/lib/python3.12/site-packages/yaml/__init__.py", snapshot)
    assert not in_stdlib("/usrlocal/lib/os.py", snapshot)
    assert not in_stdlib(None, snapshot)
