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

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

from tox_broker_audit._errors import AuditError
from tox_broker_audit._options import ORACLES
from tox_broker_audit._sanitize import clean
from tox_broker_audit.verify.oracle import OracleRun

if TYPE_CHECKING:
    from tox_broker_audit.snapshot.baseline import BaselinePlan, LiveBaseline
    from tox_broker_audit.snapshot.capture import Invocation, ProbeRequest
    from tox_broker_audit.snapshot.model import Snapshot

__all__ = ["ORACLES", "OracleRun", "OracleStep", "failing_ids", "run_oracle"]


@dataclasses.dataclass(frozen=True)
class OracleStep:
    run: OracleRun | None
    lines: tuple[str, ...] = ()
    #: The tests fail locally too: there is no environment difference to find.
    fail_locally: bool = False


def _said(name: str) -> str:
    return f"broker-audit: {name}: " if name else "broker-audit: "


def failing_ids(snapshot: Snapshot) -> tuple[str, ...]:
    return tuple(t.id for t in snapshot.pytest.tests if t.outcome == "failed")


def _with_tests(request: ProbeRequest, spec: dict[str, object]) -> ProbeRequest:
    return dataclasses.replace(request, run_tests=spec, background=False)


def _absolute(nodeids: tuple[str, ...], rootdir: str) -> tuple[str, ...]:
    out = []
    for nodeid in nodeids:
        file, sep, rest = nodeid.partition("::")
        out.append(os.path.abspath(os.path.join(rootdir, file)) + sep + rest)
    return tuple(out)


def _target_failures(
    request: ProbeRequest, target: Snapshot, since: float | None, limit: int
) -> tuple[Snapshot | None, str]:
    """The target re-run on the tests that failed in the real run: ``(snapshot, source)``."""
    from tox_broker_audit.snapshot.capture import take_snapshot
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
        spec: dict[str, object] = {"nodeids": list(_absolute(found.nodeids, rootdir))}
        source = found.source
    else:
        spec, source = {"maxfail": limit}, "probe"
    return take_snapshot(_with_tests(request, spec)), source


def _baseline_request(plan: LiveBaseline, root: Path, key: bytes | None, baseline: Snapshot) -> ProbeRequest:
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
    )


def _passing_baseline(
    request: ProbeRequest, ids: tuple[str, ...]
) -> tuple[Snapshot | None, ProbeRequest, str | None]:
    """The first local run in which every test of ``ids`` passes, and the line saying which."""
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
            snapshot = take_snapshot(_with_tests(attempt, {"nodeids": list(ids)}))
        except AuditError as exc:
            first_why = first_why or str(exc)
            continue
        outcomes = {t.id: t.outcome for t in snapshot.pytest.tests}
        failed = [i for i in ids if outcomes.get(i) != "passed"]
        if not failed:
            said = None
            if (invocation, args) != (request.invocation, request.pytest_args):
                said = (
                    f"compared with your local `{shown(invocation, args)}`: "
                    f"`{shown(request.invocation, request.pytest_args)}` in your venv "
                    f"{first_why or 'does not pass these tests'}"
                )
            return snapshot, attempt, said
        if not first_why:
            first_why = f"fails {_short_id(failed[0], request.cwd)} too"
    return None, request, None


def _short_id(test_id: str, root: Path) -> str:
    file, sep, rest = test_id.partition("::")
    return os.path.relpath(file, root) + sep + rest


def run_oracle(
    name: str,
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
    from tox_broker_audit.snapshot.baseline import LiveBaseline

    baseline, target = sides
    if mode == "collection" or request is None or baseline is None or target is None:
        return OracleStep(None)
    if not isinstance(plan, LiveBaseline) or target.pytest.not_collected or target.pytest.crash:
        return OracleStep(None)
    ran, source = _target_failures(request, target, since, limit)
    ids = failing_ids(ran) if ran is not None else ()
    if ran is None or not ids:
        line = (
            "the failing tests pass when the audit runs them again (flaky, or they need what ran before them)"
        )
        return OracleStep(None, (clean(_said(name) + line + "; the collection decides"),))
    base_request = _baseline_request(plan, root, request.key, baseline)
    passing, used, shown_run = _passing_baseline(base_request, ids)
    if passing is None:
        shown = _short_id(ids[0], root) + (f" and {len(ids) - 1} more" if len(ids) > 1 else "")
        said = f"{shown} fail locally too: not an environment difference, no cause is looked for"
        return OracleStep(None, (clean(_said(name) + said),), fail_locally=True)
    lines = (clean(_said(name) + shown_run),) if shown_run else ()
    return OracleStep(OracleRun(ids, ran, passing, used, source), lines)
