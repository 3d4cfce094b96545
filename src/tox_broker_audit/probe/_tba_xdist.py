"""The pytest-xdist worker view: collect as a worker sees the run, not as the controller.

Stdlib only, Python 3.9+. Under ``pytest -n N`` the tests run in worker processes; a
``conftest.py`` that sets up a StubBroker only ``if not hasattr(config, "workerinput")``
(controller only) leaves the workers with a real broker. The probe collects in one process
with ``--collect-only`` (xdist then starts no workers), so it would see the controller. When
the real command runs xdist (the host says so in the request: ``-n``/``--dist`` in the
command; or ``-n`` in addopts) and pytest-xdist is loaded, we give the config the
``workerinput`` a worker has, before any conftest is loaded, and collect as worker ``gw0``.
A verify re-probe can ask for the controller's view instead (``experiment.xdist_view``).
"""

from __future__ import annotations

import sys

__all__ = ["become_worker"]


def _wanted(early_config, request: dict) -> int:
    """How many workers the real run starts (0: it runs no xdist)."""
    if not early_config.pluginmanager.hasplugin("xdist"):
        return 0
    experiment = request.get("experiment") or {}
    if experiment.get("xdist_view") == "controller":
        return 0
    count = request.get("xdist_workers") or 0
    option = getattr(early_config.known_args_namespace, "numprocesses", None)
    if option:
        count = option if isinstance(option, int) else 2  # "auto", "logical"
    return int(count)


def become_worker(early_config, request: dict) -> bool:
    """Make ``early_config`` look like worker ``gw0``'s; True when it did."""
    count = _wanted(early_config, request)
    if count <= 0:
        return False
    early_config.workerinput = {
        "workerid": "gw0",
        "workercount": count,
        "testrunuid": "tox-broker-audit-probe",
        "mainargv": list(sys.argv),
    }
    early_config.workeroutput = {}
    return True
