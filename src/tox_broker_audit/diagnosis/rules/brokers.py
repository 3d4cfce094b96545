"""BA601, BA602, BA605: which broker the actors are really bound to, and why.

These rules read the snapshots' ``brokers`` sections (recorded by ``probe/_tba_brokers.py``
while the real collection ran). BA601, BA603 and BA605 also work on a single snapshot; BA602
compares two; BA604 looks at the baseline (or at the only snapshot there is).

Causal tokens (see ``rules/__init__.py``): BA605/BA602 are *about* the module and file that
created or set the broker (so a BA101 "variable read by app/broker.py" or a BA406 "plugin
imported app.tasks early" explains them) and have *effects on* ``broker:ID`` and
``target:host:port``; BA601 is about ``broker:ID`` and the actors' modules with effects on the
target; BA603 is about ``target:host:port``. Broker ids are ``Class@host:port`` (``#n`` for
duplicates), stable across snapshots of the same setup.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator

from tox_broker_audit.diagnosis.hooks import hookimpl, rule
from tox_broker_audit.diagnosis.model import DiagnosisContext, Finding, Severity
from tox_broker_audit.snapshot.model import (
    BrokerCreation,
    BrokerInfo,
    BrokersSection,
    DramatiqActor,
    Reachability,
)

from ._brokers import (
    _BAD,
    _EARLY,
    _STATUS_WORDS,
    _actor_key,
    _actor_name,
    _baseline_site_tokens,
    _brokers_by_id,
    _creation_of,
    _creation_tokens,
    _dependency_tokens,
    _describe,
    _expects_stub,
    _importer,
    _is_real,
    _last_set,
    _location,
    _names,
    _reach,
    _section,
    _set_words,
    _short,
    _site_tokens,
    _where,
)
from ._common import PHASE_WORDS, finding, side_label

__all__ = [
    "actor_real_broker_rule",
    "broker_audit_rules",
    "global_broker_rule",
    "implicit_default_rule",
]


# --------------------------------------------------------------------------- BA605


@dataclasses.dataclass(frozen=True)
class _ImplicitDefault:
    """One implicit default broker (BA605) and the words its finding's parts share."""

    creation: BrokerCreation
    info: BrokerInfo | None
    bound: list[DramatiqActor]  # the actors bound to it
    where: str  # "app/tasks.py:3"
    phase: str  # "during collection"
    importer: str | None  # what imported the creating module (see ``_importer``)


@rule(needs_baseline=False)
def implicit_default_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA605: dramatiq created its implicit default broker (``get_broker()`` with none set)."""
    section = _section(ctx.target)
    if section is None:
        return
    brokers = _brokers_by_id(section)
    reach = _reach(section)
    for creation in section.creations:
        if not creation.implicit_default:
            continue
        implicit = _ImplicitDefault(
            creation=creation,
            info=brokers.get(creation.broker_id),
            bound=[a for a in section.actors if a.broker_id == creation.broker_id],
            where=_where(ctx, creation.file, creation.line),
            phase=PHASE_WORDS.get(creation.phase, creation.phase),
            importer=_importer(ctx, creation),
        )
        yield _implicit_default_finding(ctx, section, reach, implicit)


def _implicit_default_finding(
    ctx: DiagnosisContext, section: BrokersSection, reach: dict[str, Reachability], implicit: _ImplicitDefault
) -> Finding:
    creation, bound = implicit.creation, implicit.bound
    is_global = section.global_broker is not None and section.global_broker.id == creation.broker_id
    severity: Severity = "error" if bound and (not is_global or _expects_stub(section)) else "warning"
    about = [
        "broker:" + creation.broker_id,
        *_creation_tokens(ctx.target, creation),
        *_baseline_site_tokens(ctx),
    ]
    effects = ["broker:" + creation.broker_id] + ([f"target:{creation.target}"] if creation.target else [])
    return finding(
        "BA605",
        severity,
        f"dramatiq created its implicit default {creation.cls}"
        + (f"({creation.target})" if creation.target else "")
        + f" at {implicit.where} {implicit.phase}",
        creation.cls,
        _implicit_default_detail(ctx, section, reach, implicit),
        _implicit_default_fix(implicit),
        location=_location(creation.file, creation.line),
        about=about,
        effects_on=effects,
        group="cause",
        score=95.0,
        broker_id=creation.broker_id,
        phase=creation.phase,
        stack=[{"file": f.file, "line": f.line, "module": f.module} for f in creation.stack],
        actors=[_actor_name(a) for a in bound],
    )


def _implicit_default_detail(
    ctx: DiagnosisContext, section: BrokersSection, reach: dict[str, Reachability], implicit: _ImplicitDefault
) -> str:
    """How it came about, who is bound to it, whether its target answers, and the baseline's case."""
    creation, info, bound, importer = implicit.creation, implicit.info, implicit.bound, implicit.importer
    why = (
        f"{creation.module or 'some code'} declared an actor (or called get_broker()) before any broker "
        f"was set, so dramatiq silently created its default {_describe(info) if info else creation.cls}"
    )
    detail = f"At {implicit.where} {implicit.phase}, {why}"
    if importer:
        detail += f"; {creation.module or 'that module'} was imported by {importer}"
    if bound:
        detail += f". {len(bound)} actor(s) are bound to it for good: {_names(bound)}"
    detail += _set_words(ctx, section, creation.broker_id)
    status = reach.get(creation.target or "")
    if status is not None and status.status in _BAD:
        detail += f". Its target {status.target} {_STATUS_WORDS[status.status]} ({status.detail})"
    detail += "."
    baseline = _section(ctx.baseline)
    if baseline is not None and not any(c.implicit_default for c in baseline.creations):
        detail += f" {side_label(ctx, 'baseline').capitalize()} no implicit default broker was created."
    return detail


def _implicit_default_fix(implicit: _ImplicitDefault) -> str:
    """Set the broker before the actors exist: earlier if it was created before conftest.py ran."""
    creation, importer = implicit.creation, implicit.importer
    if creation.phase in _EARLY:
        return (
            f"set the broker before {creation.module or 'the actors module'} is imported: "
            f"{'stop ' + importer + ' importing it at load time, or ' if importer else ''}"
            "call dramatiq.set_broker(StubBroker()) in the module that is imported first "
            "(e.g. the app's broker module, imported at the top of the tasks module) and choose the "
            "broker there from the environment (e.g. UNIT_TESTS)"
        )
    return (
        "import the module that calls dramatiq.set_broker(...) before "
        f"{creation.module or 'the actors'}: e.g. `from app import broker` at the top of the tasks "
        "module, or set StubBroker at the top of the first conftest.py before importing app code"
    )


# --------------------------------------------------------------------------- BA601


@dataclasses.dataclass(frozen=True)
class _RealBinding:
    """Target-side actors bound to one real broker, and what the baseline bound them to."""

    broker_id: str
    info: BrokerInfo
    actors: list[DramatiqActor]
    creation: BrokerCreation | None
    base_bind: dict[tuple[str | None, str], DramatiqActor]  # baseline actors by ``_actor_key``

    @property
    def implicit(self) -> bool:
        return self.creation is not None and self.creation.implicit_default

    @property
    def had_stub(self) -> list[DramatiqActor]:
        """The actors that were bound to a StubBroker on the baseline side."""
        return [
            a
            for a in self.actors
            if (b := self.base_bind.get(_actor_key(a))) is not None
            and b.broker_class
            and "Stub" in b.broker_class
        ]


@rule(needs_baseline=False)
def actor_real_broker_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA601: actors bound to a real broker where the tests expect a stub (or had one)."""
    section = _section(ctx.target)
    if section is None:
        return
    baseline = _section(ctx.baseline)
    base_bind: dict[tuple[str | None, str], DramatiqActor] = (
        {_actor_key(a): a for a in baseline.actors} if baseline is not None else {}
    )
    brokers = _brokers_by_id(section)
    reach = _reach(section)
    expect = _expects_stub(section)
    for broker_id, actors in _actors_on_real_brokers(section, brokers).items():
        binding = _RealBinding(
            broker_id, brokers[broker_id], actors, _creation_of(section, broker_id), base_bind
        )
        if not (expect or binding.had_stub):
            continue  # an implicit default nobody replaced is BA605's business
        detail = _real_broker_detail(ctx, section, reach, binding, _real_broker_reasons(ctx, binding, expect))
        found = _real_broker_finding(ctx, binding, detail)
        if baseline is not None and not binding.had_stub and _same_binding_in(baseline, binding):
            # the engine says it "in both runs" (engine.same_in_both_runs)
            found = dataclasses.replace(found, evidence={**found.evidence, "same_in_baseline": True})
        yield found


def _same_binding_in(baseline: BrokersSection, binding: _RealBinding) -> bool:
    """The baseline builds the same broker (class and endpoint) and binds each of these actors
    it has to it: actors only the target collected (other test files) are the same fact."""
    theirs = _brokers_by_id(baseline).get(binding.broker_id)
    if theirs is None or (theirs.cls, theirs.target) != (binding.info.cls, binding.info.target):
        return False
    return all(
        b.broker_id == binding.broker_id
        for a in binding.actors
        if (b := binding.base_bind.get(_actor_key(a))) is not None
    )


def _actors_on_real_brokers(
    section: BrokersSection, brokers: dict[str, BrokerInfo]
) -> dict[str, list[DramatiqActor]]:
    """The actors bound to a real (not stub) broker, by broker id, in the order they were declared."""
    groups: dict[str, list[DramatiqActor]] = {}
    for actor in section.actors:
        if actor.broker_id is None:
            continue
        info = brokers.get(actor.broker_id)
        if info is None or not _is_real(info.kind):
            continue
        groups.setdefault(actor.broker_id, []).append(actor)
    return groups


def _real_broker_reasons(ctx: DiagnosisContext, binding: _RealBinding, expect: str | None) -> list[str]:
    """Why a real broker looks wrong here: the baseline had a stub, the suite wants one, nobody chose it."""
    reasons = []
    had_stub = binding.had_stub
    if had_stub:
        reasons.append(
            f"{side_label(ctx, 'baseline')} they were bound to "
            f"{binding.base_bind[_actor_key(had_stub[0])].broker_class}"
        )
    if expect:
        reasons.append(expect)
    if binding.implicit:
        reasons.append("the broker is dramatiq's implicit default, not one the project chose")
    return reasons


def _real_broker_detail(
    ctx: DiagnosisContext,
    section: BrokersSection,
    reach: dict[str, Reachability],
    binding: _RealBinding,
    reasons: list[str],
) -> str:
    info, actors, creation = binding.info, binding.actors, binding.creation
    tgt = side_label(ctx, "target")
    detail = f"{tgt.capitalize()} {len(actors)} actor(s) ({_names(actors)}) are bound to {_describe(info)}"
    if creation is not None:
        detail += (
            f", created {'implicitly by get_broker() ' if binding.implicit else ''}at "
            f"{_where(ctx, creation.file, creation.line)} "
            f"{PHASE_WORDS.get(creation.phase, creation.phase)}"
        )
    if not any(a.bound_to_global for a in actors) and section.global_broker is not None:
        detail += (
            f"; the global broker is {_describe(section.global_broker)}, but actors keep the broker "
            "they were declared with"
        )
    detail += f". Why this looks wrong: {'; '.join(reasons)}. Every .send() goes to {info.target or info.cls}"
    status = reach.get(info.target or "")
    if status is not None and status.status in _BAD:
        detail += f", which {_STATUS_WORDS[status.status]}"
    detail += "."
    return detail


def _real_broker_fix(ctx: DiagnosisContext, binding: _RealBinding) -> str:
    """Declare the actors after the broker is set, or make the broker's code choose a stub."""
    creation = binding.creation
    if binding.implicit and creation is not None:
        return (
            "declare the actors after the broker is set: make "
            f"{creation.module or 'the actors module'} import the module that calls "
            "dramatiq.set_broker(...) first, and set StubBroker there under test "
            "(or in the first conftest.py, before anything imports app code)"
        )
    if creation is not None and creation.module:
        return (
            f"make {creation.module} build a StubBroker under test (it chooses the broker at "
            f"{_where(ctx, creation.file, creation.line)}; see the variables it reads), or pass "
            "broker=StubBroker() explicitly in tests"
        )
    return "set dramatiq.set_broker(StubBroker()) before the actors' module is imported"


def _real_broker_finding(ctx: DiagnosisContext, binding: _RealBinding, detail: str) -> Finding:
    info, actors = binding.info, binding.actors
    tgt = side_label(ctx, "target")
    first = actors[0]
    modules = sorted({a.module for a in actors if a.module})
    return finding(
        "BA601",
        "error",
        f"{_names(actors)} bound to {_short(info)}" + (f" {tgt}" if ctx.baseline is not None else ""),
        _names(actors),
        detail,
        _real_broker_fix(ctx, binding),
        location=_location(first.file, first.line),
        about=[f"broker:{binding.broker_id}", *(f"module:{m}" for m in modules)],
        effects_on=[f"target:{info.target}"] if info.target else [],
        group="cause",
        score=80.0,
        broker_id=binding.broker_id,
        actors=[
            {
                "name": a.name,
                "module": a.module,
                "queue": a.queue,
                "phase": a.phase,
                "bound_to_global": a.bound_to_global,
            }
            for a in actors
        ],
        baseline_brokers=sorted(
            {b.broker_class or "" for a in actors if (b := binding.base_bind.get(_actor_key(a)))}
        ),
    )


# --------------------------------------------------------------------------- BA602


@rule(needs_baseline=True)
def global_broker_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA602: the global broker at the end of collection differs between the two sides."""
    base, tgt = _section(ctx.baseline), _section(ctx.target)
    if base is None or tgt is None:
        return
    b, t = base.global_broker, tgt.global_broker
    if (b.cls if b else None, b.target if b else None) == (t.cls if t else None, t.target if t else None):
        return
    if t is None:
        return  # only the baseline had one: the actors tell the rest (BA601) if it matters
    reach = _reach(tgt)
    status = reach.get(t.target or "")
    setter = _last_set(tgt, t.id)
    creation = _creation_of(tgt, t.id)
    site = setter or creation
    severity: Severity = "warning"
    if _is_real(t.kind) and (
        (b is not None and b.kind == "stub") or (status is not None and status.status in _BAD)
    ):
        severity = "error"
    base_words, tgt_words = side_label(ctx, "baseline"), side_label(ctx, "target")
    detail = f"The global broker is {_describe(b)} {base_words} but {_describe(t)} {tgt_words}"
    if site is not None:
        detail += (
            f"; {tgt_words} it was set at {_where(ctx, site.file, site.line)} "
            f"{PHASE_WORDS.get(site.phase, site.phase)}"
        )
        if creation is not None and creation.implicit_default:
            detail += " (dramatiq's implicit default)"
    if status is not None and status.status in _BAD:
        detail += f"; {status.target} {_STATUS_WORDS[status.status]}"
    detail += "."
    about = [f"broker:{t.id}"]
    if site is not None:
        about += _site_tokens(site.file, site.module) + _dependency_tokens(ctx, site.module)
    if creation is not None:
        about += _creation_tokens(ctx.target, creation)
    about += _baseline_site_tokens(ctx)
    fix = (
        f"make the code at {_where(ctx, site.file, site.line)} choose the same broker in both environments "
        "(it usually decides from an environment variable: pass it into tox)"
        if site is not None
        else "set the broker explicitly in the test setup (dramatiq.set_broker(StubBroker()) in the first "
        "conftest.py)"
    )
    yield finding(
        "BA602",
        severity,
        f"global broker differs: {_short(b)} {base_words}, {_short(t)} {tgt_words}",
        t.cls,
        detail,
        fix,
        location=_location(site.file, site.line) if site is not None else None,
        about=about,
        effects_on=[f"broker:{t.id}"] + ([f"target:{t.target}"] if t.target else []),
        group="cause",
        score=85.0,
        baseline={"class": b.cls, "target": b.target} if b else None,
        target={"class": t.cls, "target": t.target},
    )


@hookimpl
def broker_audit_rules() -> list[Callable[[DiagnosisContext], Iterable[Finding]]]:
    return [implicit_default_rule, actor_real_broker_rule, global_broker_rule]
