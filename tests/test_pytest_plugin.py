"""The pytest front door, through pytester (a real pytest run in a subprocess)."""

from __future__ import annotations

import json

import pytest

from tox_broker_audit import load_snapshot

pytestmark = pytest.mark.slow


def test_snapshot_of_this_run(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("import os\nMODE = os.getenv('APP_MODE')\n")
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("--broker-audit-snapshot=snap.json", "-k", "one")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["broker-audit: snapshot of this run written to snap.json", "*1 passed*"])
    snapshot = load_snapshot(pytester.path / "snap.json")
    assert snapshot.meta.source.kind == "pytest-run"
    # The snapshot emulates this invocation minus our own option.
    # (pytester adds --basetemp to every subprocess run)
    assert snapshot.pytest.args[-2:] == ("-k", "one")
    assert not any("broker-audit-snapshot" in a for a in snapshot.pytest.args)
    assert snapshot.pytest.collected == 1
    reads = [r for r in snapshot.environ.reads if r.name == "APP_MODE"]
    assert reads
    assert reads[0].file == str(pytester.path / "conftest.py")
    assert reads[0].line == 2


def test_option_in_pytest_addopts_does_not_recurse(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    monkeypatch.setenv("PYTEST_ADDOPTS", "--broker-audit-snapshot=viaenv.json")
    result = pytester.runpytest_subprocess()
    assert result.ret == 0
    data = json.loads((pytester.path / "viaenv.json").read_text())
    env = {v["name"]: v["value"] for v in data["environ"]["variables"]}
    assert "--broker-audit-snapshot" not in env["PYTEST_ADDOPTS"]


def test_probe_failure_is_a_usage_error(pytester: pytest.Pytester) -> None:
    # A conftest that kills the collection-only run the probe makes (but not the real run).
    pytester.makeconftest(
        """
        import os

        def pytest_configure(config):
            if config.option.collectonly and not config.getoption("broker_audit_snapshot"):
                os._exit(3)
        """
    )
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("--broker-audit-snapshot=x.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --broker-audit-snapshot: the probe crashed in * (exit code 3)*"])
    assert "Traceback" not in result.stderr.str()
    assert not (pytester.path / "x.json").exists()


def test_without_the_option_nothing_happens(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess()
    assert result.ret == 0
    assert "broker-audit: snapshot" not in result.stdout.str()
    assert not list(pytester.path.glob("*.json"))
