"""Two recorders of the probe, on real probe runs with this interpreter (the project's own venv,
no venv to build): reads of the environment as a whole (``how = "iter"``), and imports that
failed (``imports.failed``).

One probe run per module (about a second): each test states one fact of its snapshot.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from helpers import write_tree
from tox_broker_audit.snapshot.capture import ProbeRequest, take_snapshot
from tox_broker_audit.snapshot.model import EnvRead, FailedImport, Snapshot

#: The project's conftest; each ``# <name>`` marks the line a test looks for.
CONFTEST = """
    import os
    import sys


    def from_prefixed_env(prefix="LEDGER"):
        # Flask's Config.from_prefixed_env, as it is written there.
        prefix = f"{prefix}_"
        out = {}
        for key in sorted(os.environ):  # <flask-loop>
            if not key.startswith(prefix):
                continue
            value = os.environ[key]  # <flask-getitem>
            out[key[len(prefix):]] = value
        return out


    CONFIG = from_prefixed_env()
    SNAPSHOT = dict(os.environ)  # <dict>
    APP = {k: v for k, v in os.environ.items() if k.startswith("LEDGER_")}  # <items>
    COPY = os.environ.copy()  # <copy>
    COUNT = len(os.environ)  # <len>

    try:
        import definitely_missing_mod  # <missing>
    except ImportError:
        definitely_missing_mod = None

    try:
        import ledger_late  # <late-first>
    except ImportError:
        pass
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "late"))
    import ledger_late  # <late-second>

    import json  # <found>
    import importlib.util
    CHECKED = importlib.util.find_spec("checked_not_imported") is not None  # <find-spec>

    import optlib  # a library (in a site-packages directory) with an optional backend


    class _VirtualFinder:
        # Appended after the probe's finder, as six and setuptools' editable finders are.
        def find_spec(self, fullname, path=None, target=None):
            if fullname == "virtual_mod":
                import importlib.machinery
                return importlib.machinery.ModuleSpec(fullname, _VirtualLoader())
            return None


    class _VirtualLoader:
        def create_module(self, spec):
            return None

        def exec_module(self, module):
            module.VALUE = 1


    sys.meta_path.append(_VirtualFinder())
    import virtual_mod  # <virtual>

    # A stdlib module that tries optional modules (winreg, _winapi) itself: not the project's.
    sys.modules.pop("mimetypes", None)
    import mimetypes  # <stdlib>
"""

OPTLIB = """
    try:
        import optlib_missing_backend  # <optlib>
    except ImportError:
        optlib_missing_backend = None
"""


def _line(text: str, marker: str) -> int:
    lines = [i for i, line in enumerate(text.lstrip("\n").splitlines(), 1) if f"# <{marker}>" in line]
    assert len(lines) == 1, marker
    return lines[0]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("recorders")
    write_tree(root / "libs" / "site-packages", {"optlib/__init__.py": OPTLIB})
    return write_tree(
        root / "ledger",
        {
            "tests/conftest.py": CONFTEST,
            "tests/late/ledger_late.py": "VALUE = 1\n",
            "tests/test_ledger.py": "def test_ok():\n    pass\n",
        },
    )


@pytest.fixture(scope="module")
def snapshot(project: Path) -> Snapshot:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "LEDGER_"))}
    env["LEDGER_DEBUG"] = "1"
    env["PYTHONPATH"] = str(project.parent / "libs" / "site-packages")
    request = ProbeRequest(python=sys.executable, cwd=project, env=env, brokers=False, timeout=120)
    return take_snapshot(request)


@pytest.fixture(scope="module")
def conftest(project: Path) -> str:
    return str(project / "tests" / "conftest.py")


def _reads_at(snapshot: Snapshot, file: str, marker: str) -> list[EnvRead]:
    line = _line(CONFTEST, marker)
    return [r for r in snapshot.environ.reads if r.file == file and r.line == line]


def _failed(snapshot: Snapshot) -> dict[str, FailedImport]:
    return {f.module: f for f in snapshot.imports.failed}


# --------------------------------------------------------------------------- environment


def test_a_flask_like_prefix_scan_reads_the_variable_it_finds(snapshot: Snapshot, conftest: str) -> None:
    loop = _reads_at(snapshot, conftest, "flask-loop")
    assert [(r.name, r.how, r.present, r.phase) for r in loop] == [("*", "iter", True, "conftest")]
    body = _reads_at(snapshot, conftest, "flask-getitem")
    assert [(r.name, r.how, r.present) for r in body] == [("LEDGER_DEBUG", "getitem", True)]


def test_dict_of_os_environ_is_one_iter_read_of_its_line(snapshot: Snapshot, conftest: str) -> None:
    reads = _reads_at(snapshot, conftest, "dict")
    # The values dict() fetched from that line are part of the iteration, not one read each.
    assert [(r.name, r.how, r.present, r.module) for r in reads] == [("*", "iter", True, "conftest")]


def test_a_comprehension_over_items_is_one_iter_read(snapshot: Snapshot, conftest: str) -> None:
    reads = _reads_at(snapshot, conftest, "items")
    assert [(r.name, r.how) for r in reads] == [("*", "iter")]


def test_copy_is_one_iter_read_by_its_caller(snapshot: Snapshot, conftest: str) -> None:
    reads = _reads_at(snapshot, conftest, "copy")
    assert [(r.name, r.how, r.module) for r in reads] == [("*", "iter", "conftest")]


def test_len_of_os_environ_is_no_read(snapshot: Snapshot, conftest: str) -> None:
    assert _reads_at(snapshot, conftest, "len") == []


# --------------------------------------------------------------------------- failed imports


def test_a_failed_import_in_a_conftest_is_recorded_where_it_was_tried(
    snapshot: Snapshot, conftest: str
) -> None:
    failed = _failed(snapshot)["definitely_missing_mod"]
    assert failed == FailedImport(
        module="definitely_missing_mod",
        phase="conftest",
        file=conftest,
        line=_line(CONFTEST, "missing"),
        importer="conftest",
        in_project=True,
    )


def test_a_library_s_failed_optional_import_is_recorded_outside_the_project(snapshot: Snapshot) -> None:
    failed = _failed(snapshot)["optlib_missing_backend"]
    assert failed.importer == "optlib"
    assert failed.file.endswith("optlib/__init__.py")
    assert failed.line == _line(OPTLIB, "optlib")
    assert failed.in_project is False


def test_imports_that_succeed_are_not_failed(snapshot: Snapshot) -> None:
    failed = _failed(snapshot)
    assert "json" not in failed
    assert "optlib" not in failed
    # Found by a finder appended after the probe's own (the conftest imported it: it collected).
    assert "virtual_mod" not in failed
    assert (snapshot.pytest.crash, snapshot.pytest.collected) == (None, 1)


def test_an_import_that_failed_before_it_succeeded_is_still_recorded_once(
    snapshot: Snapshot, conftest: str
) -> None:
    late = [f for f in snapshot.imports.failed if f.module == "ledger_late"]
    assert [(f.file, f.line) for f in late] == [(conftest, _line(CONFTEST, "late-first"))]


def test_a_find_spec_check_is_not_an_import(snapshot: Snapshot) -> None:
    assert "checked_not_imported" not in _failed(snapshot)


def test_no_failed_import_of_the_stdlib_or_pytest_is_recorded(snapshot: Snapshot) -> None:
    # mimetypes tries winreg and _winapi, subprocess msvcrt, copy org.python.core, site
    # sitecustomize: all asked for by the stdlib itself.
    failed = _failed(snapshot)
    if sys.platform != "win32":
        assert not {"winreg", "_winapi", "msvcrt", "sitecustomize", "usercustomize"} & set(failed)
    importers = {(f.importer or "").partition(".")[0] for f in snapshot.imports.failed}
    assert not importers & {"_pytest", "pytest", "pluggy", "mimetypes", "site", "copy", "subprocess"}
    assert set(failed) == {"definitely_missing_mod", "ledger_late", "optlib_missing_backend"}
