"""BA408: under tox the tests run in pytest-xdist workers, locally in one process.

A ``conftest.py`` that sets up a StubBroker in ``pytest_configure`` only on the controller
(``if not hasattr(config, "workerinput")``), or a fixture that only the controller's session
start runs, leaves every worker with dramatiq's real broker. The probe collects as worker
``gw0`` sees the run when the env's command starts workers (``-n``); this rule says so when
the baseline ran in one process. Whether it matters is what the verify stage's controller
experiment shows: confirmed, it ranks first; refuted, it leaves the causes.

When the worker's collection already binds every actor as the local run does (the set-up runs
in every process, e.g. a conftest that sets the StubBroker at import time), the workers are no
difference that matters: information. So is a dependency of pytest-xdist (execnet) installed
only under tox when the env's command starts workers — tox's env needs it, your one-process
run does not (:func:`is_xdist_noise`, used by ``rules/packages.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Optional

from tox_broker_audit.diagnosis.hooks import hookimpl, rule
from tox_broker_audit.diagnosis.model import DiagnosisContext, Finding, Location
from tox_broker_audit.snapshot.model import BrokersSection, Snapshot

from ._brokers import _section
from ._common import finding, side_label

__all__ = ["XDIST_DEPENDENCIES", "broker_audit_rules", "is_xdist_noise", "xdist_worker_rule"]

#: What pytest-xdist installs besides pytest (its ``Requires-Dist``): tox's env has it because
#: the env's command runs ``-n``; a one-process local run has no use for it.
XDIST_DEPENDENCIES = frozenset({"execnet"})


def is_xdist_noise(target: Snapshot, name: str) -> bool:
    """``name`` (a canonical distribution name), installed only in ``target``, is there because
    pytest-xdist needs it and the env's command starts xdist workers: expected, not a cause."""
    return (
        name in XDIST_DEPENDENCIES
        and target.pytest.xdist_worker
        and any(d.name == "pytest-xdist" for d in target.distributions)
    )


_Binding = tuple[Optional[str], Optional[str]]  # broker class, endpoint


def _bindings(
    section: BrokersSection,
) -> tuple[dict[tuple[str | None, str], _Binding], _Binding | None]:
    actors = {(a.module, a.name): (a.broker_class, a.broker_target) for a in section.actors}
    glob = section.global_broker
    return actors, (glob.cls, glob.target) if glob is not None else None


def _set_up_reaches_workers(ctx: DiagnosisContext) -> bool:
    """The worker's view binds every actor the local run has (and the global broker) alike."""
    base, tgt = _section(ctx.baseline), _section(ctx.target)
    if base is None or tgt is None or not (tgt.actors or tgt.global_broker):
        return False
    (base_actors, base_global), (tgt_actors, tgt_global) = _bindings(base), _bindings(tgt)
    shared = base_actors.keys() & tgt_actors.keys()
    return base_global == tgt_global and all(base_actors[k] == tgt_actors[k] for k in shared)


@rule()
def xdist_worker_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA408 (warning): the target collected as an xdist worker, the baseline in one process."""
    if ctx.baseline is None or not ctx.target.pytest.xdist_worker or ctx.baseline.pytest.xdist_worker:
        return
    conftests = ctx.target.pytest.conftests
    tox_side = side_label(ctx, "target")
    alike = _set_up_reaches_workers(ctx)
    yield finding(
        "BA408",
        "info" if alike else "warning",
        f"{tox_side} the tests run in pytest-xdist workers, locally in one process: "
        + (
            "the workers bind every actor as the local run does"
            if alike
            else "set-up that only the controller does never reaches them"
        ),
        "xdist",
        f"The env's command starts pytest-xdist workers (-n), so {tox_side} every test runs in a "
        "worker process; locally they run in the one pytest process. A conftest hook guarded by "
        "`workerinput` (controller only), or set-up done in the controller's session start, is "
        "missing in the workers, and their actors get another broker."
        + (
            " Here the worker's collection binds every actor (and the global broker) as "
            f"{side_label(ctx, 'baseline')}: the set-up reaches the workers."
            if alike
            else ""
        ),
        "make the broker set-up run in every process (drop the `workerinput` guard, or set the "
        "StubBroker at import time of the conftest), or run this env without -n",
        location=Location(conftests[0]) if conftests else None,
        about=["pytest:xdist"],
        effects_on=[] if alike else [*(f"file:{c}" for c in conftests), "pytest:xdist"],
        group="other" if alike else "cause",
        score=10.0 if alike else 90.0,
        set_up_reaches_workers=alike,
    )


@hookimpl
def broker_audit_rules() -> list[Callable[[DiagnosisContext], Iterable[Finding]]]:
    return [xdist_worker_rule]
