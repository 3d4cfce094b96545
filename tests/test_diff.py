"""The structural diff: pure functions over hand-built snapshots."""

from __future__ import annotations

import dataclasses

from _snapshot_factory import PROJECT, dist, make_snapshot, plugin, pth
from tox_broker_audit.diff import diff_snapshots, normalize_path
from tox_broker_audit.snapshot.model import FailedImport, Snapshot

B, T = "/proj/.venv", "/proj/.tox/py"


def test_identical_snapshots_have_an_empty_diff() -> None:
    snap = make_snapshot(prefix=B)
    assert diff_snapshots(snap, snap).empty


def test_two_venvs_in_different_places_compare_equal_after_normalisation() -> None:
    base, target = make_snapshot(prefix=B), make_snapshot(prefix=T)
    diff = diff_snapshots(base, target)
    assert diff.empty, diff
    assert (
        normalize_path(f"{B}/lib/python3.12/site-packages/x.py", base)
        == "<prefix>/lib/python3.12/site-packages/x.py"
    )
    assert normalize_path("/usr/lib/python3.12/os.py", base) == "<base>/lib/python3.12/os.py"
    assert normalize_path(f"{PROJECT}/app.py", base) == f"{PROJECT}/app.py"
    assert normalize_path(None, base) is None


def test_environment_changes() -> None:
    base = make_snapshot(prefix=B, env={"A": "1", "B": "1", "C": "1"})
    target = make_snapshot(prefix=T, env={"B": "2", "C": "1", "D": "1"})
    diff = diff_snapshots(base, target)
    assert [(c.name, c.kind) for c in diff.environ] == [("A", "missing"), ("B", "changed"), ("D", "added")]
    assert diff.comparable_fingerprints


def test_different_keys_compare_plain_values_but_not_secrets() -> None:
    base = make_snapshot(prefix=B, env={"A": "1", "PASSWORD": "x", "URL": "amqp://u:pw@h/"})
    target = make_snapshot(prefix=T, env={"A": "1", "PASSWORD": "x", "URL": "amqp://u:pw@h/"}, key=b"q" * 32)
    diff = diff_snapshots(base, target)
    assert not diff.comparable_fingerprints
    assert {c.name: c.kind for c in diff.environ} == {"PASSWORD": "uncomparable", "URL": "uncomparable"}


def test_distribution_changes() -> None:
    base = make_snapshot(
        prefix=B,
        dists=[
            dist("a", "1", prefix=B),
            dist("b", "1", prefix=B),
            dist("c", "1", prefix=B, editable=True, source_path=PROJECT),
        ],
    )
    target = make_snapshot(
        prefix=T, dists=[dist("b", "2", prefix=T), dist("c", "1", prefix=T), dist("d", prefix=T)]
    )
    kinds = [(c.name, c.kind) for c in diff_snapshots(base, target).distributions]
    assert kinds == [("a", "missing"), ("b", "version"), ("c", "install-mode"), ("d", "extra")]


def test_pth_sys_path_plugins_and_pytest_config() -> None:
    base = make_snapshot(
        prefix=B,
        invocation="python-m",
        pth_files=[pth("x.pth", prefix=B, exec_lines=["import x"])],
        plugins=[plugin("p", "p", prefix=B, distribution="p")],
    )
    target = make_snapshot(prefix=T, pytest={"inifile": f"{PROJECT}/tox.ini", "unknown_ini_keys": ["env"]})
    diff = diff_snapshots(base, target)
    assert [(c.name, c.kind, c.exec_changed) for c in diff.pth_files] == [("x.pth", "missing", True)]
    assert diff.sys_path.first_changed
    assert [e.path for e in diff.sys_path.missing] == [PROJECT]
    assert [e.path for e in diff.sys_path.extra] == [f"{T}/bin"]
    assert [(c.name, c.kind) for c in diff.plugins] == [("p", "missing")]
    assert {c.field for c in diff.pytest_config} == {"inifile", "invocation"}
    assert diff.unknown_ini_extra == ("env",)


def test_versions_compare_as_versions_and_names_canonically() -> None:
    """``1.0`` and ``1.0.0`` are the same release (PEP 440); ``Foo_Bar`` is ``foo-bar`` (PEP 503)."""
    base = make_snapshot(prefix=B, dists=[dist("attrs", "23.1", prefix=B), dist("Foo_Bar", "2.0", prefix=B)])
    target = make_snapshot(
        prefix=T, dists=[dist("attrs", "23.1.0", prefix=T), dist("foo-bar", "2.0.0", prefix=T)]
    )
    assert diff_snapshots(base, target).distributions == ()
    newer = make_snapshot(prefix=T, dists=[dist("attrs", "23.2", prefix=T), dist("foo-bar", "2.0", prefix=T)])
    assert [(c.name, c.kind) for c in diff_snapshots(base, newer).distributions] == [("attrs", "version")]


def test_the_audit_itself_is_never_a_difference() -> None:
    """tox-broker-audit installed in the developer's venv (next to tox, as the README says):
    its pytest plugin loads locally only, its modules are imported there. Not the user's doing."""
    base = make_snapshot(
        prefix=B,
        dists=[dist("tox-broker-audit", "0.1.0", prefix=B), dist("pytest-env", "1.1", prefix=B)],
        plugins=[
            plugin(
                "broker_audit", "tox_broker_audit.pytest_plugin", distribution="tox-broker-audit", prefix=B
            ),
            plugin("pytest_env", "pytest_env.plugin", distribution="pytest-env", prefix=B),
        ],
        origins=[
            {
                "module": "tox_broker_audit.pytest_plugin",
                "file": f"{B}/x.py",
                "in_project": False,
                "distribution": "tox-broker-audit",
            }
        ],
    )
    target = make_snapshot(prefix=T, dists=[])
    diff = diff_snapshots(base, target)
    assert [c.name for c in diff.distributions] == ["pytest-env"]
    assert [c.name for c in diff.plugins] == ["pytest_env"]
    assert diff.origins == ()


def _failing(snapshot: Snapshot, *modules: str) -> Snapshot:
    failed = tuple(
        FailedImport(module=m, phase="conftest", file=f"{PROJECT}/conftest.py", line=i, importer="conftest")
        for i, m in enumerate(modules, 1)
    )
    return dataclasses.replace(snapshot, imports=dataclasses.replace(snapshot.imports, failed=failed))


def test_imports_that_failed_on_one_side_only() -> None:
    base = _failing(make_snapshot(prefix=B), "hiredis", "ujson")
    target = _failing(make_snapshot(prefix=T), "redis", "hiredis", "redis")
    diff = diff_snapshots(base, target)
    assert [f.module for f in diff.failed_imports_missing] == ["ujson"]
    assert [(f.module, f.line) for f in diff.failed_imports_extra] == [("redis", 1)]  # its first attempt
    assert not diff.empty
    assert diff_snapshots(target, target).empty
