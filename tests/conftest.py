"""Test-suite wide fixtures. ``tests/`` is on sys.path (rootdir conftest), so ``helpers`` imports.

Scheduling (speed only, never what a test checks): the suite is a few long tests (real tox,
real venvs: 10-60 s each) and many short ones. xdist's default ``load`` scheduling hands each
worker a block of consecutive tests up front, which gave one worker all twelve scenarios in a
row while the other ran out of work. Here the longest tests are collected first and workers
take one test at a time, so the long ones start at once, on every worker, and the short ones
fill the gaps at the end (longest-first list scheduling).
"""

from __future__ import annotations

from typing import Any

import pytest

pytest_plugins = ["pytester", "_report_check"]

#: Node-id prefixes, longest-running first (``pytest -n auto --durations=0`` on 2 cores). Tests
#: not listed keep their collection order after these. A module's tests stay together, so
#: module-scoped fixtures are set up at most once per worker.
SLOWEST_FIRST = (
    "tests/test_demo.py::test_demo_tells_the_whole_story",  # ~25-60 s: pip + tox from the index
    "tests/scenarios/test_scenarios.py::test_scenario[pytest11_plugin]",
    "tests/scenarios/test_scenarios.py::test_scenario[sitecustomize_local]",
    "tests/scenarios/test_scenarios.py::test_scenario[pth_startup]",
    "tests/scenarios/test_scenarios.py::test_scenario[control]",
    "tests/scenarios/test_scenarios.py",  # 10-40 s each
    "tests/test_probe.py",  # module venvs, every CPython
    "tests/test_demo.py",
    "tests/test_quality.py",  # mypy on a cold cache: ~10 s
    "tests/test_nox.py",
    "tests/test_pairs.py",
    "tests/test_brokers_probe.py",
    "tests/test_tox_plugin.py",
    "tests/test_ci_drift.py",  # 4 real tox runs with package installs in the first test
)


def _rank(nodeid: str) -> int:
    return next(
        (i for i, prefix in enumerate(SLOWEST_FIRST) if nodeid.startswith(prefix)), len(SLOWEST_FIRST)
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest first; ``sort`` is stable, so the order inside each group is pytest's own."""
    items.sort(key=lambda item: _rank(item.nodeid))


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: no error under -p no:xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``-n``: xdist's load scheduling, but one test at a time unless ``--maxschedchunk`` says otherwise."""
    if config.getoption("dist") != "load":
        return None  # --dist loadscope, worksteal, ...: as asked
    from xdist.scheduler import LoadScheduling

    scheduler = LoadScheduling(config, log)
    if config.getoption("maxschedchunk") is None:
        scheduler.maxschedchunk = 1
    return scheduler
