"""Diagnosis: run the rules over a baseline/target pair, link causes to effects, rank, report.

``diagnose()`` is the one entry point (tox plugin, CLI, nox and pytest front doors all call
it). The pipeline is:

1. :func:`~tox_broker_audit.diff.diff_snapshots` (when there is a baseline);
2. every rule registered through the ``broker_audit_rules`` hook (ours and third parties',
   see ``diagnosis/rules/__init__.py`` for the contract) is called with a
   :class:`DiagnosisContext`; a rule that raises becomes a BA903 ``info`` finding instead of
   breaking the run;
3. ``ignore`` entries (``BA202`` or ``BA202:pytest-*``) drop findings;
4. causal linking (:func:`~.links.link`): C *explains* E when ``C.effects_on`` and
   ``E.about`` share a token (a rule's ``evidence["about"/"effects_on"]`` are moved into
   those fields first: :func:`~.links.adopt_links`); a ``cause``-group finding that explains
   others and is explained by no error/warning finding is a *root cause*;
5. ranking (:func:`rank`): group (cause < other < expected), then the severity of the whole
   chain, root causes first, then the rule's ``score``; each root cause is followed by the
   findings it explains (the chain the terminal shows as "so …" lines);
6. against a reference snapshot, drift is worded as drift at the dependency line
   (:mod:`.drift`); structured fixes are worded for the front door (:mod:`.wording`);
7. ids: ``{code}-{subject slug}`` (``BA101-unit-tests``; ``-2``… when two would collide).
   Ids depend only on code and subject, so they are stable across runs of the same case.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Iterable, Sequence
from typing import Any, Callable

import pluggy

from tox_broker_audit.diagnosis.codes import finding_id, is_per_run
from tox_broker_audit.diagnosis.drift import is_reference, word_drift
from tox_broker_audit.diagnosis.links import adopt_links, link
from tox_broker_audit.diagnosis.model import (
    SEVERITY_ORDER,
    DiagnosisContext,
    Finding,
    Report,
    RunInfo,
    Severity,
    ToxFacts,
)
from tox_broker_audit.diagnosis.registry import collect_rules
from tox_broker_audit.diagnosis.wording import Wording, is_nox, nox_wording, side_label, tox_wording
from tox_broker_audit.diff import diff_snapshots
from tox_broker_audit.probe._tba_redact import redact_text
from tox_broker_audit.snapshot.anchors import is_own_file
from tox_broker_audit.snapshot.model import Snapshot, emulated_command
from tox_broker_audit.snapshot.views import comparable

__all__ = [
    "describe_snapshot",
    "diagnose",
    "diagnosis_failure_finding",
    "link",
    "on_green",
    "probe_failure_finding",
    "rank",
    "word_fixes",
]

_GROUP_ORDER = {"cause": 0, "other": 1, "expected": 2}


# --------------------------------------------------------------------------- helpers


def describe_snapshot(snapshot: Snapshot | None) -> RunInfo | None:
    """The report's ``baseline``/``target``: where the snapshot came from (``None``: a side
    that could not be captured, written ``{"kind": "none", …}`` in report.json)."""
    if snapshot is None:
        return None
    meta = snapshot.meta
    return RunInfo(
        kind=meta.source.kind,
        name=meta.source.name,
        description=meta.source.description,
        emulates=emulated_command(snapshot),
        python=snapshot.interpreter.executable,
        python_version=snapshot.interpreter.version,
        invocation=meta.invocation,
        command=tuple(meta.command),
        cwd=meta.cwd,
        created=meta.created,
        tool_version=meta.tool_version,
    )


def probe_failure_finding(side: str, message: str) -> Finding:
    """BA901 for a snapshot that could not be taken at all (crash, time-out, no interpreter)."""
    message = redact_text(message)
    return Finding(
        code="BA901",
        slug="probe-failed",
        severity="warning",
        title=f"the {side} snapshot could not be taken: "
        f"{message.splitlines()[0] if message else 'unknown error'}",
        subject=side,
        detail=(
            f"The probe that records the {side} environment failed, so the audit cannot compare it. "
            f"Your tests' own result is unaffected. Probe message: {message}"
        ),
        fix=(
            "check that the interpreter exists and that importing your conftest/plugins does not hang; "
            "run `broker-audit snapshot --python PY` by hand to see the full error"
        ),
        evidence={"side": side, "message": message},
        about=(f"probe:{side}",),
        group="cause",
        score=5.0,
    )


def diagnosis_failure_finding(message: str) -> Finding:
    """BA903 when the diagnosis itself failed: the report then holds only the failures."""
    message = redact_text(message)
    return Finding(
        code="BA903",
        slug="rule-failed",
        severity="warning",
        title=message.splitlines()[0] if message else "the diagnosis failed",
        subject="diagnosis",
        detail=(
            "The diagnosis failed, so this report has no findings. "
            f"Your tests' own result is unaffected. {message}"
        ),
        fix="report this to tox-broker-audit with the snapshots in the artefact directory",
        evidence={"message": message},
        group="cause",
        score=5.0,
    )


def _rule_name(rule: Any) -> str:
    return str(getattr(rule, "__qualname__", None) or getattr(rule, "__name__", None) or type(rule).__name__)


def _rule_crashed(rule: Any, exc: BaseException) -> Finding:
    name = _rule_name(rule)
    message = redact_text(f"{type(exc).__name__}: {exc}")[:300]
    return Finding(
        code="BA903",
        slug="rule-failed",
        severity="info",
        title=f"diagnosis rule {name} failed: {message}",
        subject=name,
        detail=f"The rule {name} raised {message}; its findings are missing from this report.",
        fix="report this to the rule's authors (it may be a third-party rule)",
        evidence={"rule": name},
        group="other",
    )


def _matches_ignore(finding: Finding, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        code, sep, glob = pattern.strip().partition(":")
        if code.upper() != finding.code:
            continue
        if not sep or fnmatch.fnmatchcase(finding.subject, glob):
            return True
    return False


def _reachable(edges: Sequence[Sequence[int]], starts: Iterable[int]) -> set[int]:
    """``starts`` and every finding they explain, directly or down the chain."""
    seen: set[int] = set()
    stack = list(starts)
    while stack:
        j = stack.pop()
        if j not in seen:
            seen.add(j)
            stack.extend(edges[j])
    return seen


def _chain_severity(index: int, edges: Sequence[Sequence[int]], findings: Sequence[Finding]) -> int:
    best = SEVERITY_ORDER[findings[index].severity]
    if findings[index].group != "cause":
        return best
    return min([best, *(SEVERITY_ORDER[findings[j].severity] for j in _reachable(edges, edges[index]))])


def _effect_severity(index: int, edges: Sequence[Sequence[int]], findings: Sequence[Finding]) -> int:
    """The weightiest severity among what ``index`` explains, down the chain (3: nothing)."""
    return min((SEVERITY_ORDER[findings[j].severity] for j in _reachable(edges, edges[index])), default=3)


def _roots(findings: Sequence[Finding], edges: Sequence[Sequence[int]]) -> set[int]:
    """Cause findings that explain others and are explained by no error/warning finding."""
    explained_by_strong: set[int] = set()
    for i, out in enumerate(edges):
        if findings[i].severity in ("error", "warning"):
            explained_by_strong.update(out)
    return {
        i
        for i, out in enumerate(edges)
        if out and findings[i].group == "cause" and i not in explained_by_strong
    }


def _order(findings: Sequence[Finding], edges: Sequence[Sequence[int]], roots: set[int]) -> list[int]:
    """Indexes in report order: each root cause followed by the chain it explains."""

    def key(i: int) -> tuple[Any, ...]:
        f = findings[i]
        return (
            _GROUP_ORDER.get(f.group, 1),
            _chain_severity(i, edges, findings),
            i not in roots,
            # Of two roots as weighty, the one whose effects hold the failure (the crash that names
            # its variable) comes before one that is weighty only by itself.
            _effect_severity(i, edges, findings) if i in roots else 3,
            SEVERITY_ORDER[f.severity],
            -f.score,
            f.code,
            f.subject,
        )

    emitted: list[int] = []
    done: set[int] = set()

    def emit_chain(i: int) -> None:
        if i in done:
            return
        done.add(i)
        emitted.append(i)
        for j in sorted(edges[i], key=key):
            if findings[j].severity != "info" or findings[i].severity == "info":
                emit_chain(j)

    for i in sorted(range(len(findings)), key=key):
        if i in roots:
            emit_chain(i)
        elif i not in done:
            done.add(i)
            emitted.append(i)
    return emitted


def _ids(findings: Sequence[Finding], emitted: Sequence[int]) -> dict[int, str]:
    """``{code}-{subject slug}``, with ``-2``… where two would collide."""
    ids: dict[int, str] = {}
    used: set[str] = set()
    for i in emitted:
        base = finding_id(findings[i].code, findings[i].subject)
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}-{n}", n + 1
        used.add(candidate)
        ids[i] = candidate
    return ids


def _mute_blind_spots(findings: list[Finding], edges: Sequence[Sequence[int]]) -> list[Finding]:
    """What a side never reached is no evidence: the findings a blind spot explains are info.

    A run that crashed before collecting (BA902) has no ini file, conftests or app imports;
    every difference that exists only because of that is the crash's effect, not a second
    problem, and must not make a green env look broken (or escalate the crash itself).
    """
    muted = {j for i, out in enumerate(edges) if findings[i].evidence.get("blind_spot") for j in out}
    return [
        dataclasses.replace(f, severity="info") if i in muted and f.severity != "info" else f
        for i, f in enumerate(findings)
    ]


def _local_failure_on_green(findings: list[Finding], edges: Sequence[Sequence[int]]) -> list[Finding]:
    """Your venv failing to collect with the env's command is no isolation risk when the env passed.

    A baseline-side crash (BA902), and a difference whose only weighty effect is that crash
    (tox's ``set_env = PYTHONPATH={toxinidir}`` that your shell lacks), leave the causes.
    """
    crash = {
        i
        for i, f in enumerate(findings)
        if f.evidence.get("blind_spot") and f.evidence.get("side") == "baseline"
    }
    # ... what the crash explains (what that run never reached), and what only leads to it.
    quiet = _reachable(edges, crash)
    for i, out in enumerate(edges):
        loud = {j for j in out if findings[j].severity != "info"}
        if crash & loud and loud <= crash:
            quiet.add(i)
    return [
        dataclasses.replace(f, severity="info", group="other") if i in quiet else f
        for i, f in enumerate(findings)
    ]


#: What stays above info on a passing env: BA604 (the local run passes only because a real
#: broker answers) and the audit's own failures (BA901, BA903). Drift against a reference too.
LOUD_ON_GREEN = frozenset({"BA604", "BA901", "BA903"})


def on_green(findings: Sequence[Finding], *, reference: bool = False) -> list[Finding]:
    """The one place that says what a passing env is told (docs/findings.md, "On a passing env").

    The env's tests passed, so no difference is the cause of a failure: every finding is
    information, kept with its group and links (``-v`` lists it, report.json has it), except
    :data:`LOUD_ON_GREEN` and, against a ``reference`` snapshot, drift (a CI drift check fails a
    green run on purpose). A local-only crash and what only leads to it leave the causes too.
    A capped finding keeps the severity it would have had in ``evidence["capped_from"]`` (the
    verify stage, run on a green env with ``always``, still tries those causes first).
    Severity is all ``--broker-audit-fail-on`` and the CI formats look at, so capping it holds
    the invariant everywhere. Called by :func:`rank` and again after the verify stage.
    """
    findings = [adopt_links(f) for f in findings]
    findings = _local_failure_on_green(findings, link(findings))
    if reference:
        return findings
    return [
        f
        if f.severity == "info" or f.code in LOUD_ON_GREEN
        else dataclasses.replace(f, severity="info", evidence={**f.evidence, "capped_from": f.severity})
        for f in findings
    ]


def rank(
    findings: Sequence[Finding], *, escalate: bool = False, passed: bool = False, reference: bool = False
) -> list[Finding]:
    """Link, mark root causes, order (chains kept together) and assign ids.

    ``passed`` (the env's tests passed): :func:`on_green` first, so the order is the quiet one.

    With ``escalate`` (a comparison of two snapshots), a warning-level root cause of an error
    is reported as an error: the difference is what made the failure. A single snapshot has
    no such evidence (using dramatiq's default broker may be intended), so severities stay.
    """
    findings = [adopt_links(f) for f in findings]
    edges = link(findings)
    findings = _mute_blind_spots(findings, edges)
    if passed:
        findings = on_green(findings, reference=reference)
    roots = _roots(findings, edges)
    emitted = _order(findings, edges, roots)
    ids = _ids(findings, emitted)

    def severity(i: int) -> Severity:
        # The root cause of an error is itself an error, whatever its rule thought on its own
        # (e.g. a local-only sitecustomize that turns out to set the broker).
        if (
            escalate
            and i in roots
            and findings[i].severity == "warning"
            and _chain_severity(i, edges, findings) == 0
        ):
            return "error"
        return findings[i].severity

    return [
        dataclasses.replace(
            findings[i],
            id=ids[i],
            severity=severity(i),
            root_cause=i in roots,
            explains=tuple(ids[j] for j in sorted(edges[i], key=emitted.index)),
        )
        for i in emitted
    ]


# --------------------------------------------------------------------------- entry point


_LIBRARY_IMPORTERS = ("_pytest", "pytest", "pluggy", "importlib", "_frozen_importlib", "runpy", "site")


def propagate_imports(findings: Sequence[Finding], baseline: Snapshot, target: Snapshot) -> list[Finding]:
    """Extend causes' effects along the import graph from modules importable on one side only.

    A module that exists on one side only (``local_settings.py`` on the cwd, a module left out
    of the wheel) changes what its importers do: a cause that affects it also affects them, and
    so explains findings about them (e.g. the broker module that chose RabbitMQ). Modules that
    exist on both sides are not followed, so ordinary differences do not spread.
    """
    imported = [{o.module for o in snap.imports.origins} for snap in (baseline, target)]
    one_sided = imported[0] ^ imported[1]
    if not one_sided:
        return list(findings)
    importers: dict[str, set[str]] = {}
    for snap in (baseline, target):
        for event in snap.imports.timeline:
            if event.importer and not event.importer.startswith(_LIBRARY_IMPORTERS):
                importers.setdefault(event.module, set()).add(event.importer)
    out = []
    for finding in findings:
        effects = set(finding.effects_on)
        start = {t[len("module:") :] for t in effects if t.startswith("module:")} & one_sided
        if finding.group != "cause" or not start:
            out.append(finding)
            continue
        reached: set[str] = set()
        frontier = set(start)
        for _depth in range(4):  # the broker module is rarely far from the settings it reads
            frontier = {imp for m in frontier for imp in importers.get(m, ())} - reached - start
            if not frontier:
                break
            reached |= frontier
        added = {f"module:{m}" for m in reached} - effects
        if not added:
            out.append(finding)
            continue
        out.append(dataclasses.replace(finding, effects_on=tuple(sorted(effects | added))))
    return out


def _per_run(
    rules: Sequence[Callable[[DiagnosisContext], Iterable[Finding]]], ctx: DiagnosisContext
) -> Iterable[Finding]:
    """The per-run findings of the single-snapshot rules on ``ctx`` (a crash: reported by the
    main run, skipped here)."""
    for rule in rules:
        if getattr(rule, "needs_baseline", True):
            continue
        try:
            yield from [adopt_links(f) for f in rule(ctx) if is_per_run(f.code)]
        except Exception:  # noqa: BLE001, S112 - the rule's crash is reported by the main run
            continue


def _fact(finding: Finding) -> tuple[str, str, Any]:
    """What makes two per-run findings the same fact: code, subject and the broker it is about
    (the same actors on another endpoint are another fact)."""
    return finding.code, finding.subject, finding.evidence.get("broker_id")


def same_in_both_runs(
    found: Sequence[Finding],
    rules: Sequence[Callable[[DiagnosisContext], Iterable[Finding]]],
    ctx: DiagnosisContext,
) -> list[Finding]:
    """Per-run facts (BA601, BA603, BA605: :func:`~.codes.is_per_run`) that the baseline shows
    too are no difference tox made: said "in both runs", information, never a cause.

    The single-snapshot rules run once more on the baseline alone; a target finding with the
    same code and subject is the same fact. The rules then word it themselves once more, with
    ``ctx.in_both_runs`` set (their target side is said "in both runs"): no finished title is
    edited. A rule that can tell the baseline shows the same fact although the subjects differ
    (the target collected more test files: more actors on the same broker) says so with
    ``evidence["same_in_baseline"]``.
    """
    if ctx.baseline is None or not any(is_per_run(f.code) for f in found):
        return list(found)
    alone = DiagnosisContext(baseline=None, target=ctx.baseline, tox=ctx.tox, env_name=ctx.env_name)
    seen = {_fact(f) for f in _per_run(rules, alone)}
    seen |= {_fact(f) for f in found if is_per_run(f.code) and f.evidence.get("same_in_baseline")}
    if not seen:
        return list(found)
    reworded: dict[tuple[str, str, Any], Finding] = {}
    for f in _per_run(rules, dataclasses.replace(ctx, in_both_runs=True)):
        reworded.setdefault(_fact(f), f)
    out = []
    for finding in found:
        key = _fact(finding)
        if key not in seen:
            out.append(finding)
            continue
        same = reworded.get(key, finding)
        out.append(
            dataclasses.replace(
                same,
                severity="info",
                group="other",
                detail=f"The same holds {side_label(ctx, 'baseline')}: not a difference. {same.detail}",
                evidence={**same.evidence, "in_both_runs": True},
                about=(),
                effects_on=(),
            )
        )
    return out


def word_fixes(findings: Iterable[Finding], wording: Wording, tox: ToxFacts | None) -> list[Finding]:
    """Say every structured fix the way the front door's user needs it (``fix``, ``location``)."""
    out = []
    for finding in findings:
        if finding.change is not None and not finding.fix:
            text, where = wording(finding.change, tox)
            finding = dataclasses.replace(finding, fix=text, location=finding.location or where)  # noqa: PLW2901
        if finding.location is not None and not _editable(finding.location.path):
            finding = dataclasses.replace(finding, location=None)  # noqa: PLW2901
        out.append(finding)
    return out


def _editable(path: str) -> bool:
    """Whether a fix may point at ``path``: never into installed packages or a tox/nox env,
    which the next install overwrites (the finding's text still names where the code ran)."""
    return is_own_file(path)


def diagnose(
    baseline: Snapshot | None,
    target: Snapshot,
    *,
    env_name: str | None = None,
    ignore: Sequence[str] = (),
    tox: ToxFacts | None = None,
    rules: Sequence[Callable[[DiagnosisContext], Iterable[Finding]]] | None = None,
    plugin_manager: pluggy.PluginManager | None = None,
    extra_findings: Sequence[Finding] = (),
    wording: Wording | None = None,
    outcome: str | None = None,
) -> Report:
    """Diagnose ``target`` against ``baseline`` (``None``: only single-snapshot rules run).

    ``outcome`` ("passed" | "failed"): how the audited run ended, when the front door knows.

    ``rules`` replaces the registered rules (tests); ``extra_findings`` (e.g. a
    :func:`probe_failure_finding`) are ranked together with the rules' findings.
    ``wording`` says structured fixes for the front door (default: nox's words for a nox
    session, tox's otherwise).
    """
    if baseline is not None:  # one side did not collect: compare only what both ran
        baseline, target = comparable(baseline, target)
    diff = diff_snapshots(baseline, target) if baseline is not None else None
    ctx = DiagnosisContext(baseline=baseline, target=target, diff=diff, tox=tox, env_name=env_name)
    found: list[Finding] = [adopt_links(f) for f in extra_findings]
    for rule in collect_rules(plugin_manager) if rules is None else rules:
        if baseline is None and getattr(rule, "needs_baseline", True):
            continue
        try:
            found.extend(adopt_links(f) for f in rule(ctx))
        except Exception as exc:  # noqa: BLE001 - a broken (third-party) rule must not break the run
            found.append(_rule_crashed(rule, exc))
    found = same_in_both_runs(found, collect_rules(plugin_manager) if rules is None else rules, ctx)
    if ignore:
        found = [f for f in found if not _matches_ignore(f, ignore)]
    if baseline is not None:
        found = propagate_imports(found, baseline, target)
    found = word_drift(found, ctx)
    found = word_fixes(found, wording or (nox_wording if is_nox(ctx) else tox_wording), tox)
    return Report(
        env=env_name,
        baseline=describe_snapshot(baseline),
        target=describe_snapshot(target),
        findings=tuple(
            rank(
                found, escalate=baseline is not None, passed=outcome == "passed", reference=is_reference(ctx)
            )
        ),
        outcome=outcome,
    )
