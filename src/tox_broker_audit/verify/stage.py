"""The verify stage: when the two symptoms differ, show which difference causes it.

Called by a front door after the diagnosis, with the target's probe request (same
interpreter, cwd, command, environment) and the environment the baseline ran with. Mode
``off`` never runs; ``auto`` runs when the audited run failed (or its outcome is unknown);
``always`` whenever the symptoms differ. A snapshot-file target cannot be re-run: the
front door passes no request, and nothing is verified.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from tox_broker_audit._options import DEFAULT_BUDGET, VERIFY_MODES, Budget, parse_budget
from tox_broker_audit.diagnosis.model import Report
from tox_broker_audit.snapshot.capture import ProbeRequest
from tox_broker_audit.snapshot.model import Snapshot
from tox_broker_audit.snapshot.views import collected
from tox_broker_audit.verify.annotate import TestsShown, annotate, candidates_for
from tox_broker_audit.verify.interventions import derive
from tox_broker_audit.verify.oracle import OracleRun
from tox_broker_audit.verify.runner import make_runner
from tox_broker_audit.verify.search import Runner, search
from tox_broker_audit.verify.symptom import passing, symptom_of, tests_symptom

__all__ = ["DEFAULT_BUDGET", "MODES", "parse_budget", "verify"]

MODES = VERIFY_MODES
_BUDGET = Budget()


def verify(  # noqa: PLR0917 - the front doors' one call site each
    report: Report,
    baseline: Snapshot | None,
    target: Snapshot | None,
    request: ProbeRequest | None,
    values: Mapping[str, str] | None,
    root: str,
    *,
    mode: str = "auto",
    budget: Budget = _BUDGET,
    outcome: str | None = None,
    runner: Runner | None = None,
    oracle: OracleRun | None = None,
) -> Report:
    """``report`` with verification statuses (unchanged when nothing needs to run).

    ``oracle``: the failing tests and both sides' runs of them (``_oracle.py``): an experiment
    is confirmed when those tests pass with it. Without it the collection symptom decides."""
    if mode == "off" or baseline is None or target is None or request is None or budget.runs <= 0:
        return report
    if mode == "auto" and outcome == "passed":
        return report
    if oracle is not None:
        return _by_tests(report, oracle, request, values, root, budget, runner)
    if not (collected(baseline) and collected(target)):
        return report  # a side that did not collect has no symptom to reproduce
    want, have = symptom_of(baseline, root), symptom_of(target, root)
    if want == have or (want.crash and not have.crash):
        # Equal: nothing to explain. The baseline crashed: there is no result to reproduce, and
        # every experiment would look refuted; the rules' ranking stands unverified.
        return report
    env_name = report.env or "the env"
    pool = derive(baseline, target, values, env_name)
    candidates = candidates_for(report.findings, pool)
    # A re-probe that hangs must not outlast the budget (the first snapshot had the full time-out).
    capped = dataclasses.replace(request, timeout=min(request.timeout, max(budget.seconds, 1.0)))
    run = runner or make_runner(capped, root)
    outcome_ = search(want, have, candidates, pool, run, budget)
    return annotate(report, outcome_, env_name)


def _by_tests(  # noqa: PLR0917 - verify's one call site
    report: Report,
    oracle: OracleRun,
    request: ProbeRequest,
    values: Mapping[str, str] | None,
    root: str,
    budget: Budget,
    runner: Runner | None,
) -> Report:
    """The test oracle: re-run the failing tests with each difference undone; cured = all pass."""
    env_name = report.env or "the env"
    ids = oracle.ids
    want, have = passing(ids, oracle.target, root), tests_symptom(oracle.target, ids, root)
    pool = derive(oracle.baseline, oracle.target, values, env_name)
    candidates = candidates_for(report.findings, pool)
    # An experiment connects only where one of the two real runs did (never a new broker).
    reached = sorted(
        {c.endpoint for side in (oracle.target, oracle.baseline) for c in side.pytest.connections}
    )
    rerun = dataclasses.replace(
        request,
        run_tests={**oracle.spec, "allow": reached},
        timeout=min(request.timeout, max(budget.seconds, 1.0)),
    )
    run = runner or make_runner(rerun, root, symptom=lambda snapshot, r: tests_symptom(snapshot, ids, r))
    outcome_ = search(want, have, candidates, pool, run, budget)
    return annotate(report, outcome_, env_name, tests=TestsShown(want, have))
