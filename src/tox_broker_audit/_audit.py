"""The audit pipeline: one function every front door calls, :func:`run_audit`.

A front door (tox, nox, ``broker-audit compare``/``diff``) only translates its host: it builds
an :class:`AuditJob` — how to get the target (a probe request, or a snapshot already taken),
how to take the baseline its :data:`~tox_broker_audit.snapshot.baseline.BaselinePlan` names,
the options — and gets back an :class:`AuditResult`: the finished report and the lines to
print. In between, always in this order: capture both sides (BA901 for a side that fails; one
line when there is nothing to compare with on purpose), diagnose, verify (re-probes of a live
target, with values only from a live baseline plan), write the artefacts, render the formats,
count what ``fail-on`` turns into a failure. The front door prints and fails in its own way
(a tox ``Fail``, ``session.error``, an exit code).

Never let the audit break the user's run (docs/architecture.md): a diagnosis, verification,
artefact or renderer failure becomes a BA901 finding or one line of output, never an exception.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Union

from tox_broker_audit._errors import AuditError, NothingToCompareError
from tox_broker_audit._options import DEFAULT_BUDGET, Budget, parse_budget
from tox_broker_audit._sanitize import clean

if TYPE_CHECKING:
    from tox_broker_audit._oracle import OracleRun, OracleStep
    from tox_broker_audit.diagnosis.hooks import RenderOptions
    from tox_broker_audit.diagnosis.model import Finding, Report, ToxFacts
    from tox_broker_audit.snapshot.baseline import BaselinePlan, LiveBaseline
    from tox_broker_audit.snapshot.capture import ProbeRequest
    from tox_broker_audit.snapshot.model import Snapshot

__all__ = [
    "AuditJob",
    "AuditResult",
    "Captured",
    "Taken",
    "capture",
    "count_failing",
    "run_audit",
    "selection_note",
    "take_baseline",
]


@dataclasses.dataclass(frozen=True)
class Taken:
    """A side already captured by the front door (``compare`` takes its sides first, so that a
    bad interpreter is a usage error); ``request``: how, when it can be re-run."""

    snapshot: Snapshot
    request: ProbeRequest | None = None


#: What a front door's target callable returns: a request to probe (the pipeline takes it and
#: keeps it for the verify stage), or a side it took itself.
TargetSpec = Union["ProbeRequest", Taken]


def _render_options() -> RenderOptions:
    from tox_broker_audit.diagnosis.hooks import RenderOptions

    return RenderOptions()


@dataclasses.dataclass(frozen=True)
class AuditJob:
    """Everything a front door knows about one audit (an env, a session, a comparison)."""

    name: str
    #: The project root: relative paths, the baseline's cwd, the verify stage's anchor.
    root: Path
    plan: BaselinePlan
    target: Callable[[], TargetSpec]
    baseline: Callable[[], Snapshot]
    output: RenderOptions = dataclasses.field(default_factory=_render_options)
    #: Where the artefacts go (``.tox/<env>/broker-audit``); None: none are written.
    out_dir: Path | None = None
    #: The front door's environment: only for the CI job summary (never the baseline's values).
    environ: Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False)
    ignore: tuple[str, ...] = ()
    verify: str = "auto"
    budget: Budget = dataclasses.field(default_factory=lambda: parse_budget(DEFAULT_BUDGET))
    fail_on: str = "never"
    #: How the audited test run ended, when the front door knows: "passed" | "failed".
    outcome: str | None = None
    facts: Callable[[], ToxFacts | None] | None = None
    #: Lines the front door has to say before the report (a bad option it ignored, …).
    notes: tuple[str, ...] = ()
    #: Called with both sides once captured: what the front door saved, one line each.
    after_capture: Callable[[Snapshot | None, Snapshot | None], Sequence[str]] | None = None
    target_words: str = "the env"
    #: What decides a cause (``_oracle.py``): ``auto`` (the failing tests, when they can run),
    #: ``tests`` or ``collection``; and how many failing tests it re-runs at most.
    oracle: str = "auto"
    oracle_tests: int = 3
    #: When the audited test run started (``time.time()``): older pytest caches are not its.
    since: float | None = None


@dataclasses.dataclass(frozen=True)
class AuditResult:
    """The finished report; ``notices``: what happened on the way (capture, notes, selection,
    saves), ``lines``: the report's own output (formats, artefact and verification lines)."""

    report: Report
    notices: tuple[str, ...]
    lines: tuple[str, ...]
    #: Findings at or above the job's ``fail_on``.
    failing: int
    baseline: Snapshot | None = None
    target: Snapshot | None = None


def _said(name: str) -> str:
    """The prefix of a line about audit ``name`` (``broker-audit: py: ``; none for an unnamed one)."""
    return f"broker-audit: {name}: " if name else "broker-audit: "


def count_failing(report: Report, fail_on: str) -> int:
    """How many findings are at or above ``fail_on`` (``never``: none)."""
    if fail_on == "never":
        return 0
    levels = ("error",) if fail_on == "error" else ("error", "warning")
    return sum(1 for finding in report.findings if finding.severity in levels)


# --------------------------------------------------------------------------- the pipeline


def run_audit(job: AuditJob) -> AuditResult:
    """Capture, diagnose, verify, write, render, count: the one pipeline (module docstring)."""
    from tox_broker_audit import _outputs

    captured = capture(job.name, job.target, job.baseline, target_words=job.target_words)
    captured, reproduced = _reproduced(job, captured)
    captured, step = _tested(job, captured)
    notices = [*captured.lines, *job.notes, *([reproduced] if reproduced else []), *step.lines]
    note = selection_note(job.name, captured.baseline, captured.target, job.root)
    notices.extend([note] if note else [])
    if job.after_capture is not None:
        notices.extend(job.after_capture(captured.baseline, captured.target))
    report, lines = _build_report(job, captured)
    more: list[str] = []
    if step.fail_locally:  # no difference is the cause: no experiment looks for one either
        report = _not_environment(report)
    else:
        report, more = _verified(job, report, captured, step.run)
        report = _with_edits(report)
    lines.extend(more)
    artefacts: tuple[str, ...] = ()
    if job.out_dir is not None:
        artefacts, more = _outputs.write_artefacts(job.out_dir, captured.baseline, captured.target, report)
        lines.extend(more)
    lines.extend(_outputs.render_outputs(job.name, report, job.out_dir, artefacts, job.output))
    if job.out_dir is not None:
        from tox_broker_audit._job_summary import publish

        lines.extend(publish(job.environ, job.out_dir / "report.md"))
    return AuditResult(
        report,
        tuple(notices),
        tuple(lines),
        count_failing(report, job.fail_on),
        captured.baseline,
        captured.target,
    )


def _reproduced(job: AuditJob, captured: Captured) -> tuple[Captured, str | None]:
    """The baseline must be a run that passes locally: when the emulated one cannot collect,
    the local run a developer plausibly makes instead (``_local_run.py``), and one line."""
    from tox_broker_audit._local_run import reproduce_local

    key = captured.request.key if captured.request is not None else None
    try:
        baseline, line = reproduce_local(
            job.name, job.plan, (captured.baseline, captured.target), job.root, key
        )
    except Exception as exc:  # noqa: BLE001 - the emulated baseline still compares
        return captured, clean(
            f"{_said(job.name)}could not re-take the local run: {type(exc).__name__}: {exc}"
        )
    if baseline is captured.baseline:
        return captured, line
    return dataclasses.replace(captured, baseline=baseline), line


def _tested(job: AuditJob, captured: Captured) -> tuple[Captured, OracleStep]:
    """The failing tests on both sides (``_oracle.py``): their runs become the two sides."""
    from tox_broker_audit._oracle import OracleStep, run_oracle

    wanted = job.outcome == "failed" or (job.oracle == "tests" and job.outcome != "passed")
    if job.verify == "off" or not wanted or job.budget.runs <= 0:
        return captured, OracleStep(None)
    request = captured.request
    if request is not None:  # a test that hangs must not outlast the verify budget
        request = dataclasses.replace(request, timeout=min(request.timeout, max(job.budget.seconds, 1.0)))
    try:
        step = run_oracle(
            job.plan,
            (captured.baseline, captured.target),
            request,
            job.root,
            mode=job.oracle,
            since=job.since,
            limit=job.oracle_tests,
        )
    except Exception as exc:  # noqa: BLE001 - the collection still decides
        line = clean(f"{_said(job.name)}could not run the failing tests: {type(exc).__name__}: {exc}")
        return captured, OracleStep(None, (line,))
    step = dataclasses.replace(step, lines=tuple(clean(_said(job.name) + line) for line in step.lines))
    if step.run is None or not step.run.compared:
        return captured, step
    return dataclasses.replace(captured, baseline=step.run.baseline, target=step.run.target), step


def _with_edits(report: Report) -> Report:
    """Each confirmed cause's change of the tox config as ``edits`` (``fix/``); a file that cannot
    be read or parsed leaves the finding as it was (its ``fix`` still says what to do)."""
    from tox_broker_audit.fix import with_edits

    try:
        return with_edits(report)
    except Exception:  # noqa: BLE001 - never let the audit break the run
        return report


def _not_environment(report: Report) -> Report:
    """The tests fail locally too: no difference is their cause (capped as on a green env)."""
    from tox_broker_audit.diagnosis.engine import on_green

    reference = report.baseline is not None and report.baseline.kind == "reference"
    return dataclasses.replace(report, findings=tuple(on_green(report.findings, reference=reference)))


def _build_report(job: AuditJob, captured: Captured) -> tuple[Report, list[str]]:
    """The diagnosis with the BA901 findings of the sides that failed first; a failure of the
    diagnosis itself is a BA901 finding too (``facts`` is called inside its guard)."""
    from tox_broker_audit.diagnosis.engine import describe_snapshot, diagnose, diagnosis_failure_finding
    from tox_broker_audit.diagnosis.model import Report

    failures, lines = list(captured.failures), []
    report: Report | None = None
    if captured.target is not None:
        try:
            tox = job.facts() if job.facts is not None else None
            report = diagnose(
                captured.baseline,
                captured.target,
                env_name=job.name or None,
                ignore=job.ignore,
                tox=tox,
                outcome=job.outcome,
            )
        except Exception as exc:  # noqa: BLE001 - never let the audit break the run
            message = f"the diagnosis failed: {type(exc).__name__}: {exc}"
            failures.append(diagnosis_failure_finding(message))
            lines.append(clean(f"{_said(job.name)}{message}"))
    if report is None:
        report = Report(
            env=job.name or None,
            baseline=describe_snapshot(captured.baseline),
            target=describe_snapshot(captured.target),
            findings=(),
            outcome=job.outcome,
        )
    if failures:
        report = dataclasses.replace(report, findings=(*failures, *report.findings))
    return report, lines


def _verified(
    job: AuditJob, report: Report, captured: Captured, oracle: OracleRun | None = None
) -> tuple[Report, list[str]]:
    """The verify stage (docs/findings.md, "Verification"): re-probes of the target's own request.

    A variable can be set to the baseline's value only when the plan is a live baseline (it ran
    here with the front door's environment); a snapshot file or a reference's values are
    fingerprints, so those experiments are "untested". A failure here is one line, never more.
    """
    if job.verify == "off" or captured.target is None:
        return report, []
    if captured.request is None:
        if job.verify == "always":
            return report, [f"{_said(job.name)}verify: the target is a snapshot file, which cannot be re-run"]
        return report, []
    from tox_broker_audit.snapshot.baseline import live_values
    from tox_broker_audit.verify.stage import verify

    try:
        return verify(
            report,
            captured.baseline,
            captured.target,
            captured.request,
            live_values(job.plan),
            str(job.root),
            mode=job.verify,
            budget=job.budget,
            outcome=job.outcome,
            oracle=oracle,
        ), []
    except Exception as exc:  # noqa: BLE001 - the unverified report is still the answer
        return report, [clean(f"{_said(job.name)}the verification failed: {type(exc).__name__}: {exc}")]


# --------------------------------------------------------------------------- the two sides


def probe_failure(side: str, message: str) -> Finding:
    from tox_broker_audit.diagnosis.engine import probe_failure_finding

    return probe_failure_finding(side, message)


def take_baseline(
    plan: BaselinePlan,
    root: Path,
    key: bytes,
    selection: tuple[str, ...] = (),
    *,
    env_name: str = "",
    config_only: bool = False,
    background: bool = False,
) -> Snapshot:
    """The baseline ``plan`` names: a snapshot file, ``env_name``'s reference, or plain
    ``pytest`` run from ``root`` in the live interpreter with the environment it was planned
    with, collecting ``selection`` (the target's test paths, ``-k``, ``-m``: the same tests).
    Any failure is an :class:`AuditError`; nothing to compare with on purpose,
    :class:`NothingToCompareError`. ``background``: the probe runs at a low CPU priority (it
    runs beside the env's own work, which must not wait for it)."""
    from tox_broker_audit.snapshot.baseline import LiveBaseline, NoBaseline, ReferenceDirBaseline
    from tox_broker_audit.snapshot.io import load_snapshot
    from tox_broker_audit.snapshot.reference import as_reference, load_reference, shown

    if isinstance(plan, NoBaseline):
        raise AuditError(plan.why) if plan.failure else NothingToCompareError(plan.why)
    try:
        if isinstance(plan, ReferenceDirBaseline):
            return load_reference(plan.directory, env_name, root)
        if isinstance(plan, LiveBaseline):
            return _probe_baseline(plan, root, key, selection, config_only=config_only, background=background)
        return as_reference(load_snapshot(plan.path), shown(plan.path, root))
    except AuditError:
        raise
    except Exception as exc:  # noqa: BLE001 - never let the audit break the run
        message = f"internal error while taking the baseline: {type(exc).__name__}: {exc}"
        raise AuditError(message) from None


def _probe_baseline(
    plan: LiveBaseline,
    root: Path,
    key: bytes,
    selection: tuple[str, ...],
    *,
    config_only: bool = False,
    background: bool = False,
) -> Snapshot:
    from tox_broker_audit.snapshot.capture import ProbeRequest, take_snapshot
    from tox_broker_audit.snapshot.model import Source

    shown = " ".join(("pytest", *selection))
    return take_snapshot(
        ProbeRequest(
            python=plan.python,
            cwd=root,
            env=dict(plan.environ),
            invocation="pytest",
            pytest_args=selection,
            source=Source(
                kind="plain-pytest",
                name="baseline",
                description=f"plain `{shown}` in {root} with {plan.found_by}",
            ),
            project_root=root,
            key=key,
            config_only=config_only,
            background=background,
        )
    )


@dataclasses.dataclass(frozen=True)
class Captured:
    """Both sides' snapshots (None where capturing failed), the BA901 findings and lines, and
    the target's probe request when it can be re-run (the verify stage's)."""

    target: Snapshot | None
    baseline: Snapshot | None
    failures: tuple[Finding, ...]
    lines: tuple[str, ...]
    request: ProbeRequest | None = None


def capture(
    name: str,
    take_target: Callable[[], TargetSpec | Snapshot],
    take_baseline: Callable[[], Snapshot],
    *,
    target_words: str = "the env",
) -> Captured:
    """Take the target, then the baseline; a side that fails is a BA901 finding and one line.

    ``take_target`` returns a probe request (taken here), a :class:`Taken` side or a snapshot.
    ``take_baseline`` may be the ``result`` of a future started earlier: the baseline is
    waited for only after the target was taken.
    """
    failures: list[Finding] = []
    lines: list[str] = []
    request: list[ProbeRequest] = []

    def target() -> Snapshot:
        from tox_broker_audit.snapshot.capture import ProbeRequest, take_snapshot

        spec = take_target()
        if isinstance(spec, ProbeRequest):
            request.append(spec)
            return take_snapshot(spec)
        if isinstance(spec, Taken):
            request.extend([spec.request] if spec.request is not None else [])
            return spec.snapshot
        return spec

    taken: list[Snapshot | None] = []
    for side, take, words in (
        ("target", target, f"could not capture {target_words}"),
        ("baseline", take_baseline, "no baseline"),
    ):
        try:
            taken.append(take())
        except NothingToCompareError as exc:  # on purpose: one line, no finding
            taken.append(None)
            lines.append(clean(f"{_said(name)}{exc}"))
        except AuditError as exc:
            taken.append(None)
            failures.append(probe_failure(side, str(exc)))
            lines.append(clean(f"{_said(name)}{words}: {exc}"))
    return Captured(taken[0], taken[1], tuple(failures), tuple(lines), request[0] if request else None)


# --------------------------------------------------------------------------- what was compared


def _selection(snapshot: Snapshot, root: str) -> tuple[str, ...]:
    from tox_broker_audit._local_run import baseline_selection

    return baseline_selection(snapshot, root)


def selection_note(name: str, baseline: Snapshot | None, target: Snapshot | None, root: Path) -> str | None:
    """One line when the two runs did not select the same tests (a reference snapshot taken
    with other arguments): what only one side imported may come from that, not from tox.
    Test paths compare relative to the project ``root``."""
    if baseline is None or target is None or target.pytest.not_collected or baseline.pytest.not_collected:
        return None
    # Each against its own project root: a reference may come from another checkout.
    mine = _selection(baseline, baseline.meta.project_root or str(root))
    theirs = _selection(target, target.meta.project_root or str(root))
    if mine == theirs:
        return None
    return clean(
        f"broker-audit: {name}: the two runs collect different tests — baseline `{_command(mine)}`"
        f" ({baseline.pytest.collected} collected), target `{_command(theirs)}`"
        f" ({target.pytest.collected} collected); differences in what they import may come from that"
    )


def _command(selection: tuple[str, ...]) -> str:
    return " ".join(("pytest", *selection))
