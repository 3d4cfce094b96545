"""When the emulated local run cannot collect, the baseline is re-taken the way a developer
plausibly runs the tests (``_local_run.py``); the end-to-end case is the python_m_local scenario."""

from __future__ import annotations

from _snapshot_factory import make_snapshot
from tox_broker_audit._local_run import candidates, why_not_local

ERROR = {"nodeid": "tests/test_api.py", "message": "E   ModuleNotFoundError: No module named 'tests'"}


def test_a_clean_local_run_is_the_baseline() -> None:
    assert why_not_local(make_snapshot(), make_snapshot()) is None


def test_a_local_run_that_stops_before_collecting_is_not_local_passing() -> None:
    crash = "ImportError while loading conftest\nE   No module named 'tests'"
    crashed = make_snapshot(pytest={"crash": crash})
    assert why_not_local(crashed, make_snapshot()) == "stops before collecting (E   No module named 'tests')"


def test_collection_errors_only_the_local_run_has_count_those_of_both_do_not() -> None:
    local = make_snapshot(pytest={"collection_errors": [ERROR]})
    assert why_not_local(local, make_snapshot()) == (
        "cannot collect 1 test module (E   ModuleNotFoundError: No module named 'tests')"
    )
    assert why_not_local(local, make_snapshot(pytest={"collection_errors": [ERROR]})) is None


def test_what_a_developer_plausibly_runs_most_like_the_env_first() -> None:
    assert candidates(("tests/unit",)) == [("python-m", ("tests/unit",)), ("pytest", ()), ("python-m", ())]
    assert candidates(()) == [("python-m", ())]  # plain `pytest` is what failed
