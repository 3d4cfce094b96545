"""The test oracle: the user's failing tests decide (docs/findings.md, "Verification").

A pipeline step between capturing and diagnosing. When the audited run failed, it finds the
tests that failed in that real run (``verify/failed.py``: pytest's ``lastfailed``, a junit
file; else the env's selection run up to a few failures), runs them again in the target with
the probe's recorders on, and runs the same tests in the live baseline: they must pass there.
When the emulated local command fails them, the runs a developer plausibly makes instead are
tried (``_local_run.py``: ``python -m pytest``, the whole suite) and one line says which one
passes. Both runs replace the collection snapshots for the diagnosis (they hold everything a
collection does, plus what the tests read, imported and connected to), and the verify stage
re-runs those tests with each difference undone.

Nothing of this runs when the env passed, with ``--broker-audit-oracle=collection``, without
a target request to re-run, or without a live baseline (a reference or a snapshot file cannot
run tests): the collection symptom is the oracle then.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tox_broker_audit._errors import AuditError
from tox_broker_audit.verify.oracle import OracleRun
from tox_broker_audit.verify.symptom import FIRST_TESTS

if TYPE_CHECKING:
    from tox_broker_audit.snapshot.baseline import BaselinePlan, LiveBaseline
    from tox_broker_audit.snapshot.capture import Invocation, ProbeRequest
    from tox_broker_audit.snapshot.model import Snapshot

__all__ = ["OracleRun", "OracleStep", "failing_ids", "run_oracle"]


@dataclasses.dataclass(frozen=True)
class OracleStep:
    run: OracleRun | None
    #: What to say, one line each (the pipeline names the env in front of them).
    lines: tuple[str, ...] = ()
    #: The tests fail locally too: there is no environment difference to find.
    fail_locally: bool = False


def failing_ids(snapshot: Snapshot) -> tuple[str, ...]:
    return tuple(t.id for t in snapshot.pytest.tests if t.outcome == "failed")


def _with_tests(request: ProbeRequest, spec: dict[str, object]) -> ProbeRequest:
    return dataclasses.replace(request, run_tests=spec, background=False)


def _failed_spec(
    request: ProbeRequest, target: Snapshot, since: float | None, limit: int
) -> dict[str, object]:
    """What to run (``run_tests``) of the tests that failed in the real run: those its junit
    file or ``lastfailed`` names, else the selection up to ``limit`` failures."""
    from tox_broker_audit._command import absolute_nodeid
    from tox_broker_audit.verify.failed import failed_tests

    rootdir = target.pytest.rootdir or str(request.cwd)
    found = failed_tests(
        rootdir,
        request.pytest_args,
        inifile=target.pytest.inifile,
        since=since,
        limit=limit,
        cwd=str(request.cwd),
    )
    if found.nodeids:
        return {"nodeids": [absolute_nodeid(n, rootdir) for n in found.nodeids]}
    return {"maxfail": limit}


def _baseline_request(
    plan: LiveBaseline, root: Path, key: bytes | None, baseline: Snapshot, timeout: float
) -> ProbeRequest:
    from tox_broker_audit._local_run import baseline_selection
    from tox_broker_audit.snapshot.capture import ProbeRequest

    invocation: Invocation = "python-m" if baseline.meta.invocation == "python-m" else "pytest"
    return ProbeRequest(
        python=plan.python,
        cwd=root,
        env=dict(plan.environ),
        invocation=invocation,
        pytest_args=baseline_selection(baseline, str(root)),
        source=baseline.meta.source,
        project_root=root,
        key=key,
        timeout=timeout,
    )


def _passing_baseline(
    request: ProbeRequest,
    spec: dict[str, object],
    ids: tuple[str, ...],
    first: Callable[[], Snapshot] | None = None,
) -> tuple[Snapshot | None, str | None]:
    """The first local run in which every test of ``ids`` (none: the first tests ``spec`` runs)
    passes, and the line saying which; ``first``: the emulated command's run, already under way."""
    from tox_broker_audit._local_run import candidates, shown
    from tox_broker_audit.snapshot.capture import take_snapshot
    from tox_broker_audit.snapshot.model import Source

    first_why = ""
    tries = [(request.invocation, request.pytest_args), *candidates(request.pytest_args)]
    for invocation, args in tries:
        attempt = dataclasses.replace(
            request,
            invocation=invocation,
            pytest_args=args,
            pytest_script=None,
            source=Source(
                kind="plain-pytest", name="baseline", description=f"your local `{shown(invocation, args)}`"
            ),
        )
        try:
            if first is not None:
                snapshot, first = first(), None
            else:
                snapshot = take_snapshot(_with_tests(attempt, spec))
        except AuditError as exc:
            first_why = first_why or str(exc)
            continue
        failed = _failed_of(snapshot, ids)
        if failed and _wrote(snapshot):
            return None, "the tests write into the project, which the audit's runs may not"
        if not failed:
            said = None
            if (invocation, args) != (request.invocation, request.pytest_args):
                said = (
                    f"compared with your local `{shown(invocation, args)}`: "
                    f"`{shown(request.invocation, request.pytest_args)}` in your venv "
                    f"{first_why or 'does not pass these tests'}"
                )
            return snapshot, said
        if not first_why:
            first_why = f"fails {_short_id(failed[0], request.cwd)} too"
    return None, None


def _wrote(snapshot: Snapshot) -> bool:
    """The run tried to write into the project (the guard refused it): a test that failed
    there may pass in your own run, so its failure says nothing."""
    return any(issue.section == "writes" for issue in snapshot.errors)


def _failed_of(snapshot: Snapshot, ids: tuple[str, ...]) -> list[str]:
    """Which of ``ids`` did not pass (none named: any failure, or nothing ran)."""
    outcomes = {t.id: t.outcome for t in snapshot.pytest.tests}
    if ids:
        return [i for i in ids if outcomes.get(i) != "passed"]
    if snapshot.pytest.crash or not outcomes:
        return ["<start>"]
    return [i for i, outcome in outcomes.items() if outcome == "failed"]


def _short_id(test_id: str, root: Path) -> str:
    if test_id == "<start>":
        return FIRST_TESTS
    file, sep, rest = test_id.partition("::")
    return os.path.relpath(file, root) + sep + rest


def run_oracle(
    plan: BaselinePlan,
    sides: tuple[Snapshot | None, Snapshot | None],
    request: ProbeRequest | None,
    root: Path,
    *,
    mode: str,
    since: float | None,
    limit: int,
) -> OracleStep:
    """Run the failing tests on both sides (module docstring); ``OracleStep(None)``: the
    collection symptom stays the oracle."""
    from tox_broker_audit.snapshot.capture import take_snapshot

    baseline, target = sides
    if mode == "collection" or request is None or baseline is None or target is None:
        return OracleStep(None)
    if target.pytest.not_collected or not target.pytest.available:
        return OracleStep(None)
    if target.pytest.crash:
        # pytest stops before any test runs: the cure is that the selection's first tests run
        # and pass (the real run wrote no lastfailed to name them).
        first_tests: dict[str, object] = {"first": limit}
        crashed = take_snapshot(_with_tests(request, first_tests))
        if not crashed.pytest.crash:
            return OracleStep(None)  # it does not stop here: not reproduced, the collection decides
        found = OracleRun((), crashed, baseline, first_tests)
        return _against_baseline(plan, baseline, root, found, target=request)
    spec = _failed_spec(request, target, since, limit)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        # The tests are known: the local run of them starts beside the env's (two cores).
        early = _early_baseline(pool, plan, root, baseline, request, spec)
        ran = take_snapshot(_with_tests(request, spec))
        ids = failing_ids(ran)
        if not ids:
            line = "the failing tests pass when the audit runs them again (flaky, or they need what ran "
            return OracleStep(None, (line + "before them); the collection decides",))
        found = OracleRun(ids, ran, baseline, {"nodeids": list(ids)})
        first = early.result if early is not None else None
        return _against_baseline(plan, baseline, root, found, target=request, first=first)


def _early_baseline(  # noqa: PLR0917 - run_oracle's one call
    pool: concurrent.futures.Executor,
    plan: BaselinePlan,
    root: Path,
    baseline: Snapshot,
    target: ProbeRequest,
    spec: dict[str, object],
) -> concurrent.futures.Future[Snapshot] | None:
    from tox_broker_audit.snapshot.baseline import LiveBaseline
    from tox_broker_audit.snapshot.capture import take_snapshot

    if not isinstance(plan, LiveBaseline) or "nodeids" not in spec:
        return None
    request = _baseline_request(plan, root, target.key, baseline, target.timeout)
    return pool.submit(take_snapshot, _with_tests(request, spec))


def _against_baseline(
    plan: BaselinePlan,
    baseline: Snapshot,
    root: Path,
    found: OracleRun,
    *,
    target: ProbeRequest,
    first: Callable[[], Snapshot] | None = None,
) -> OracleStep:
    """With a live baseline, the same tests must pass there (else the run that does, or none);
    a reference or a snapshot file cannot run them: the target's failure alone is the oracle."""
    from tox_broker_audit.snapshot.baseline import LiveBaseline

    if not isinstance(plan, LiveBaseline):
        return OracleStep(found)
    base_request = _baseline_request(plan, root, target.key, baseline, target.timeout)
    passing, shown_run = _passing_baseline(base_request, dict(found.spec), found.ids, first)
    if passing is None and shown_run:  # the local run cannot be judged here: the collection decides
        return OracleStep(None, (shown_run + "; the collection decides",))
    if passing is None:
        shown = _shown_tests(found.ids, root)
        said = f"{shown} fail locally too: not an environment difference, no cause is looked for"
        return OracleStep(None, (said,), fail_locally=True)
    lines = (shown_run,) if shown_run else ()
    run = dataclasses.replace(found, baseline=passing, compared=True)
    return OracleStep(run, lines)


def _shown_tests(ids: tuple[str, ...], root: Path) -> str:
    if not ids:
        return FIRST_TESTS
    return _short_id(ids[0], root) + (f" and {len(ids) - 1} more" if len(ids) > 1 else "")
