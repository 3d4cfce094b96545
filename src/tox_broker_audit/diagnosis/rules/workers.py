"""BA408: under tox the tests run in pytest-xdist workers, locally in one process.

A ``conftest.py`` that sets up a StubBroker in ``pytest_configure`` only on the controller
(``if not hasattr(config, "workerinput")``), or a fixture that only the controller's session
start runs, leaves every worker with dramatiq's real broker. The probe collects as worker
``gw0`` sees the run when the env's command starts workers (``-n``); this rule says so when
the baseline ran in one process. Whether it matters is what the verify stage's controller
experiment shows: confirmed, it ranks first; refuted, it leaves the causes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from tox_broker_audit.diagnosis.hooks import hookimpl, rule
from tox_broker_audit.diagnosis.model import DiagnosisContext, Finding, Location

from ._common import finding, side_label

__all__ = ["broker_audit_rules", "xdist_worker_rule"]


@rule()
def xdist_worker_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA408 (warning): the target collected as an xdist worker, the baseline in one process."""
    if ctx.baseline is None or not ctx.target.pytest.xdist_worker or ctx.baseline.pytest.xdist_worker:
        return
    conftests = ctx.target.pytest.conftests
    tox_side = side_label(ctx, "target")
    yield finding(
        "BA408",
        "warning",
        f"{tox_side} the tests run in pytest-xdist workers, locally in one process: set-up that "
        "only the controller does never reaches them",
        "xdist",
        f"The env's command starts pytest-xdist workers (-n), so {tox_side} every test runs in a "
        "worker process; locally they run in the one pytest process. A conftest hook guarded by "
        "`workerinput` (controller only), or set-up done in the controller's session start, is "
        "missing in the workers, and their actors get another broker.",
        "make the broker set-up run in every process (drop the `workerinput` guard, or set the "
        "StubBroker at import time of the conftest), or run this env without -n",
        location=Location(conftests[0]) if conftests else None,
        about=["pytest:xdist"],
        effects_on=[*(f"file:{c}" for c in conftests), "pytest:xdist"],
        group="cause",
        score=90.0,
    )


@hookimpl
def broker_audit_rules() -> list[Callable[[DiagnosisContext], Iterable[Finding]]]:
    return [xdist_worker_rule]
