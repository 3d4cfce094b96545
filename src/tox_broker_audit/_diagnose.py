"""Diagnosis: run the rules over a baseline/target pair, link causes to effects, rank, report.

``diagnose()`` is the one entry point (tox plugin, CLI, nox and pytest front doors all call
it). The pipeline is:

1. :func:`~tox_broker_audit._diff.diff_snapshots` (when there is a baseline);
2. every rule registered through the ``broker_audit_rules`` hook (ours and third parties',
   see ``_rules/__init__.py`` for the contract) is called with a :class:`DiagnosisContext`;
   a rule that raises becomes a BA901 ``info`` finding instead of breaking the run;
3. ``ignore`` entries (``BA202`` or ``BA202:pytest-*``) drop findings;
4. causal linking (:func:`link`): C *explains* E when ``C.evidence["effects_on"]`` and
   ``E.evidence["about"]`` share a token; a ``cause``-group finding that explains others
   and is explained by no error/warning finding is a *root cause*;
5. ranking (:func:`rank`): group (cause < other < expected), then the severity of the whole
   chain, root causes first, then the rule's ``score``; each root cause is followed by the
   findings it explains (the chain the terminal shows as "so …" lines);
6. ids: ``{code}-{subject slug}`` (``BA101-unit-tests``; ``-2``… when two would collide).
   Ids depend only on code and subject, so they are stable across runs of the same case.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Callable

import pluggy

from . import _hooks
from ._diff import SnapshotDiff, diff_snapshots
from ._findings import SEVERITY_ORDER, Finding, Report, Severity
from ._render._json import report_to_dict
from ._snapshot import Snapshot

__all__ = [
    "DiagnosisContext",
    "ToxFacts",
    "collect_rules",
    "default_plugin_manager",
    "describe_snapshot",
    "diagnose",
    "link",
    "make_plugin_manager",
    "probe_failure_finding",
    "rank",
    "report_to_dict",
]

_GROUP_ORDER = {"cause": 0, "other": 1, "expected": 2}


@dataclasses.dataclass(frozen=True)
class ToxFacts:
    """What the tox plugin knows about the env under audit (used for concrete fixes)."""

    ini_path: str | None = None
    ini_section: str | None = None  # "testenv" or "testenv:py312"
    section_line: int | None = None
    pass_env: tuple[str, ...] = ()
    set_env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    package: str | None = None  # "wheel" | "sdist" | "editable" | "skip"
    installed: tuple[str, ...] = ()
    deps: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class DiagnosisContext:
    """What every rule receives. ``baseline``/``diff`` are ``None`` in single-snapshot mode."""

    baseline: Snapshot | None
    target: Snapshot
    diff: SnapshotDiff | None = None
    tox: ToxFacts | None = None
    env_name: str | None = None
    #: Scratch space for derived facts shared between rules (see ``_rules._common``).
    cache: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)


# --------------------------------------------------------------------------- plugins


def make_plugin_manager(*, entry_points: bool = True) -> pluggy.PluginManager:
    """A plugin manager with our hook specs, the built-in rules and renderers, and (unless
    ``entry_points`` is false) every plugin installed under the entry-point group
    ``tox_broker_audit``."""
    from . import _rules
    from ._render import _builtin as builtin_renderers

    pm = pluggy.PluginManager(_hooks.PROJECT)
    pm.add_hookspecs(_hooks)
    for name, module in _rules.builtin_rule_modules():
        pm.register(module, name=f"tox_broker_audit.rules.{name}")
    pm.register(builtin_renderers, name="tox_broker_audit.renderers")
    if entry_points:
        pm.load_setuptools_entrypoints(_hooks.PROJECT)
    return pm


_DEFAULT_PM: list[pluggy.PluginManager] = []


def default_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use (entry points are scanned once)."""
    if not _DEFAULT_PM:
        _DEFAULT_PM.append(make_plugin_manager())
    return _DEFAULT_PM[0]


def collect_rules(
    pm: pluggy.PluginManager | None = None,
) -> list[Callable[[DiagnosisContext], Iterable[Finding]]]:
    """Every rule contributed through ``broker_audit_rules``, in registration order."""
    pm = pm or default_plugin_manager()
    rules: list[Callable[[DiagnosisContext], Iterable[Finding]]] = []
    for contributed in reversed(pm.hook.broker_audit_rules()):  # pluggy calls LIFO
        rules.extend(contributed or ())
    return rules


# --------------------------------------------------------------------------- helpers


def describe_snapshot(snapshot: Snapshot | None) -> dict[str, Any]:
    """The ``baseline``/``target`` object of report.json: where the snapshot came from."""
    if snapshot is None:
        return {"kind": "none", "description": "no baseline"}
    meta = snapshot.meta
    return {
        "kind": meta.source.kind,
        "name": meta.source.name,
        "description": meta.source.description,
        "python": snapshot.interpreter.executable,
        "python_version": snapshot.interpreter.version,
        "invocation": meta.invocation,
        "command": list(meta.command),
        "cwd": meta.cwd,
        "created": meta.created,
        "tool_version": meta.tool_version,
    }


def probe_failure_finding(side: str, message: str) -> Finding:
    """BA901 for a snapshot that could not be taken at all (crash, time-out, no interpreter)."""
    from .probe._tba_redact import redact_text

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
        evidence={"side": side, "message": message, "about": [f"probe:{side}"], "effects_on": []},
        group="cause",
        score=5.0,
    )


def _rule_name(rule: Any) -> str:
    return str(getattr(rule, "__qualname__", None) or getattr(rule, "__name__", None) or type(rule).__name__)


def _rule_crashed(rule: Any, exc: BaseException) -> Finding:
    from .probe._tba_redact import redact_text

    name = _rule_name(rule)
    message = redact_text(f"{type(exc).__name__}: {exc}")[:300]
    return Finding(
        code="BA901",
        slug="probe-failed",
        severity="info",
        title=f"diagnosis rule {name} failed: {message}",
        subject=name,
        detail=f"The rule {name} raised {message}; its findings are missing from this report.",
        fix="report this to the rule's authors (it may be a third-party rule)",
        evidence={"rule": name, "about": [], "effects_on": []},
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


def _tokens(finding: Finding, key: str) -> set[str]:
    value = finding.evidence.get(key) or ()
    return {str(v) for v in value}


def link(findings: Sequence[Finding]) -> list[tuple[int, ...]]:
    """For each finding, the indexes of the findings it explains (see module docstring).

    Two findings that would explain each other keep only the direction from the one with the
    higher score (ties: the lower code), so chains stay acyclic for the common pairs.
    """
    effects = [_tokens(f, "effects_on") for f in findings]
    abouts = [_tokens(f, "about") for f in findings]
    edges = [
        {j for j in range(len(findings)) if j != i and effects[i] & abouts[j]} for i in range(len(findings))
    ]
    for i, out in enumerate(edges):
        for j in list(out):
            if i in edges[j]:
                keep_i = (findings[i].score, findings[j].code) > (findings[j].score, findings[i].code)
                (edges[j] if keep_i else out).discard(i if keep_i else j)
    return [tuple(sorted(e)) for e in edges]


def _chain_severity(index: int, edges: Sequence[Sequence[int]], findings: Sequence[Finding]) -> int:
    best = SEVERITY_ORDER[findings[index].severity]
    if findings[index].group != "cause":
        return best
    seen = {index}
    stack = list(edges[index])
    while stack:
        j = stack.pop()
        if j in seen:
            continue
        seen.add(j)
        best = min(best, SEVERITY_ORDER[findings[j].severity])
        stack.extend(edges[j])
    return best


def rank(findings: Sequence[Finding], *, escalate: bool = False) -> list[Finding]:
    """Link, mark root causes, order (chains kept together) and assign ids.

    With ``escalate`` (a comparison of two snapshots), a warning-level root cause of an error
    is reported as an error: the difference is what made the failure. A single snapshot has
    no such evidence (using dramatiq's default broker may be intended), so severities stay.
    """
    findings = list(findings)
    edges = link(findings)
    explained_by_strong: set[int] = set()
    for i, out in enumerate(edges):
        if findings[i].severity in ("error", "warning"):
            explained_by_strong.update(out)
    roots = {
        i
        for i, out in enumerate(edges)
        if out and findings[i].group == "cause" and i not in explained_by_strong
    }

    def key(i: int) -> tuple[Any, ...]:
        f = findings[i]
        return (
            _GROUP_ORDER.get(f.group, 1),
            _chain_severity(i, edges, findings),
            i not in roots,
            SEVERITY_ORDER[f.severity],
            -f.score,
            f.code,
            f.subject,
        )

    order = sorted(range(len(findings)), key=key)
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

    for i in order:
        if i in roots:
            emit_chain(i)
        elif i not in done:
            done.add(i)
            emitted.append(i)

    ids: dict[int, str] = {}
    used: set[str] = set()
    for i in emitted:
        base = f"{findings[i].code}-{_slugify(findings[i].subject)}".rstrip("-")
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}-{n}", n + 1
        used.add(candidate)
        ids[i] = candidate

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


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48]


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
        effects = _tokens(finding, "effects_on")
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
        evidence = dict(finding.evidence)
        evidence["effects_on"] = sorted(effects | added)
        out.append(dataclasses.replace(finding, evidence=evidence))
    return out


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
) -> Report:
    """Diagnose ``target`` against ``baseline`` (``None``: only single-snapshot rules run).

    ``rules`` replaces the registered rules (tests); ``extra_findings`` (e.g. a
    :func:`probe_failure_finding`) are ranked together with the rules' findings.
    """
    diff = diff_snapshots(baseline, target) if baseline is not None else None
    ctx = DiagnosisContext(baseline=baseline, target=target, diff=diff, tox=tox, env_name=env_name)
    if rules is None:
        rules = collect_rules(plugin_manager)
    found: list[Finding] = list(extra_findings)
    for rule in rules:
        if baseline is None and getattr(rule, "needs_baseline", True):
            continue
        try:
            found.extend(rule(ctx))
        except Exception as exc:  # noqa: BLE001 - a broken (third-party) rule must not break the run
            found.append(_rule_crashed(rule, exc))
    if ignore:
        found = [f for f in found if not _matches_ignore(f, ignore)]
    if baseline is not None:
        found = propagate_imports(found, baseline, target)
    return Report(
        env=env_name,
        baseline=describe_snapshot(baseline),
        target=describe_snapshot(target),
        findings=tuple(rank(found, escalate=baseline is not None)),
    )
