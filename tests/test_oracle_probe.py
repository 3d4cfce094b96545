"""The test oracle's probe run (``run_tests``): real pytest in this interpreter, real sockets.

What it must do: run only the tests asked for (by ``/abs/file.py::name``), a module that cannot be
collected counted as one failed "test", or the selection's first tests; note each outcome with
its failure line redacted; note every connection and end a test at its first connection to an
endpoint that does not answer; hide a package from import when asked; and write nothing into
the project while the tests run.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from helpers import write_tree
from tox_broker_audit.probe._tba_redact import MASK
from tox_broker_audit.snapshot.capture import ProbeRequest, take_snapshot
from tox_broker_audit.snapshot.model import Snapshot
from tox_broker_audit.verify.symptom import FIRST_TESTS, describe, passing
from tox_broker_audit.verify.symptom import tests_symptom as outcome_of

pytestmark = pytest.mark.slow

SECRET = "hunter2-oracle-value"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    port = _closed_port()
    return write_tree(
        tmp_path_factory.mktemp("oracle") / "proj",
        {
            "pytest.ini": "[pytest]\n",
            "tests/test_a.py": f"""
                import os
                import socket


                def test_ok():
                    pass


                def test_flag():
                    assert os.environ.get("ORACLE_FLAG") == "1", "ORACLE_FLAG is not 1"


                def test_secret():
                    assert os.environ["API_TOKEN"] == "other"


                def test_connects():
                    for _ in range(50):  # a client's retry loop: the first refusal must end it
                        try:
                            socket.create_connection(("127.0.0.1", {port}), timeout=5)
                        except Exception:
                            continue


                def test_writes_into_the_project():
                    with open("written-by-a-test.txt", "w") as fh:
                        fh.write("x")


                def test_imports_optional():
                    import json_hidden_probe_target  # noqa: F401
                """,
            "tests/test_broken.py": "import no_such_module_for_the_oracle\n\ndef test_never():\n    pass\n",
            "json_hidden_probe_target.py": "",
        },
    )


def _ran(project: Path, spec: dict[str, object], *args: str, **env: str) -> Snapshot:
    environ = {"PATH": "/usr/bin:/bin", "API_TOKEN": SECRET, "PYTHONPATH": str(project), **env}
    request = ProbeRequest(
        python=sys.executable,
        cwd=project,
        project_root=project,
        env=environ,
        run_tests=spec,
        pytest_args=args,
    )
    return take_snapshot(request)


def _id(project: Path, name: str) -> str:
    return f"{project / 'tests' / 'test_a.py'}::{name}"


def test_only_the_tests_asked_for_run_each_with_its_outcome(project: Path) -> None:
    ids = [_id(project, "test_ok"), _id(project, "test_flag")]
    snapshot = _ran(project, {"nodeids": ids})
    outcomes = {t.nodeid: (t.outcome, t.message) for t in snapshot.pytest.tests if "test_a" in t.id}
    assert outcomes == {
        "tests/test_a.py::test_ok": ("passed", ""),
        "tests/test_a.py::test_flag": ("failed", "AssertionError: ORACLE_FLAG is not 1"),
    }
    # The variable the test read is a read like any other, in the phase "test".
    assert any(r.name == "ORACLE_FLAG" and r.phase == "test" for r in snapshot.environ.reads)
    cured = _ran(project, {"nodeids": ids}, ORACLE_FLAG="1")
    assert outcome_of(cured, tuple(ids), str(project)) == passing(tuple(ids), cured, str(project))
    assert describe(outcome_of(cured, tuple(ids), str(project))) == "tests/test_a.py::test_ok and 1 more pass"


def test_a_module_that_cannot_be_collected_is_one_failed_outcome(project: Path) -> None:
    broken = str(project / "tests" / "test_broken.py")
    snapshot = _ran(project, {"nodeids": [broken, _id(project, "test_ok")]})
    outcomes = {t.id: (t.outcome, t.message) for t in snapshot.pytest.tests}
    assert outcomes[broken] == (
        "failed",
        "ModuleNotFoundError: No module named 'no_such_module_for_the_oracle'",
    )
    assert outcomes[_id(project, "test_ok")] == ("passed", "")  # past the collection error


def test_a_secret_in_a_failure_message_is_hidden(project: Path) -> None:
    snapshot = _ran(project, {"nodeids": [_id(project, "test_secret")]})
    (test,) = [t for t in snapshot.pytest.tests if t.nodeid.endswith("test_secret")]
    assert test.outcome == "failed"
    assert SECRET not in test.message
    assert MASK in test.message


def test_the_first_refused_connection_ends_the_test_and_is_recorded(project: Path) -> None:
    snapshot = _ran(project, {"nodeids": [_id(project, "test_connects")]})
    (test,) = [t for t in snapshot.pytest.tests if t.nodeid.endswith("test_connects")]
    assert test.outcome == "failed"
    assert "does not answer" in test.message
    (connection,) = snapshot.pytest.connections
    assert connection.answered is False
    assert connection.file == str(project / "tests" / "test_a.py")
    assert connection.phase == "test"


def test_a_test_cannot_write_into_the_project(project: Path) -> None:
    snapshot = _ran(project, {"nodeids": [_id(project, "test_writes_into_the_project")]})
    (test,) = [t for t in snapshot.pytest.tests if t.nodeid.endswith("test_writes_into_the_project")]
    assert test.outcome == "failed"
    assert not (project / "written-by-a-test.txt").exists()
    assert not (project / ".pytest_cache").exists()


def test_a_hidden_package_cannot_be_imported(project: Path) -> None:
    test_id = _id(project, "test_imports_optional")
    assert [t.outcome for t in _ran(project, {"nodeids": [test_id]}).pytest.tests if t.id == test_id] == [
        "passed"
    ]
    environ = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(project)}
    hidden = take_snapshot(
        ProbeRequest(
            python=sys.executable,
            cwd=project,
            project_root=project,
            env=environ,
            run_tests={"nodeids": [test_id]},
            experiment={"hide": ["json_hidden_probe_target"]},
        )
    )
    (test,) = [t for t in hidden.pytest.tests if t.id == test_id]
    assert (test.outcome, test.message) == (
        "failed",
        "ModuleNotFoundError: No module named 'json_hidden_probe_target'",
    )


def test_the_first_tests_of_the_selection_when_none_is_named(project: Path) -> None:
    snapshot = _ran(project, {"first": 1}, "tests/test_a.py")
    assert [t.nodeid for t in snapshot.pytest.tests] == ["tests/test_a.py::test_ok"]
    assert describe(outcome_of(snapshot, (), str(project))) == f"{FIRST_TESTS} run and pass"
    # The whole selection has a module that cannot be collected: its first tests do not pass.
    broken = outcome_of(_ran(project, {"first": 1}), (), str(project))
    assert broken.tests == ((FIRST_TESTS, "failed"),)
    assert "no_such_module_for_the_oracle" in broken.failure


def test_a_dash_p_plugin_with_output_options_in_addopts_does_not_crash_pytest(tmp_path: Path) -> None:
    """Field test (django_dramatiq, 2026-12-02): the experiment that loads a local-only plugin
    with ``-p`` crashed pytest (``IndexError`` in ``consider_preparse``) whenever ``addopts`` held
    an output option: the scrubber shortened the very list pytest was looping over."""
    project = write_tree(
        tmp_path / "proj",
        {
            "pytest.ini": "[pytest]\naddopts = --junitxml=report.xml --junit-prefix=x\n",
            "local_plugin.py": (
                "import os\n\n\ndef pytest_configure(config):\n    os.environ['LOADED'] = '1'\n"
            ),
            "tests/test_p.py": (
                "import os\n\n\ndef test_loaded():\n    assert os.environ.get('LOADED') == '1'\n"
            ),
        },
    )
    test_id = f"{project / 'tests' / 'test_p.py'}::test_loaded"
    snapshot = _ran(project, {"nodeids": [test_id]}, "-p", "local_plugin")
    assert snapshot.pytest.crash is None, snapshot.errors
    assert [(t.id, t.outcome) for t in snapshot.pytest.tests] == [(test_id, "passed")]
    assert not (project / "report.xml").exists()


def test_an_experiment_connects_only_where_a_real_run_did(tmp_path: Path) -> None:
    """Undoing a difference must never make a test publish where neither real run would: in
    an experiment's run (``allow``), an endpoint not in the list is refused at once, even one
    that answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = int(server.getsockname()[1])
        project = write_tree(
            tmp_path / "proj",
            {
                "pytest.ini": "[pytest]\n",
                "tests/test_c.py": (
                    "import socket\n\n\ndef test_connects():\n"
                    f"    socket.create_connection(('127.0.0.1', {port}), timeout=5).close()\n"
                ),
            },
        )
        test_id = f"{project / 'tests' / 'test_c.py'}::test_connects"
        free = _ran(project, {"nodeids": [test_id]})
        assert [t.outcome for t in free.pytest.tests] == ["passed"]
        assert [(c.endpoint, c.answered) for c in free.pytest.connections] == [(f"127.0.0.1:{port}", True)]
        allowed = _ran(project, {"nodeids": [test_id], "allow": [f"127.0.0.1:{port}"]})
        assert [t.outcome for t in allowed.pytest.tests] == ["passed"]
        refused = _ran(project, {"nodeids": [test_id], "allow": ["127.0.0.1:1"]})
        (test,) = refused.pytest.tests
        assert test.outcome == "failed"
        assert f"neither real run reaches 127.0.0.1:{port}" in test.message
