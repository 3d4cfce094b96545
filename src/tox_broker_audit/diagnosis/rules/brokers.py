"""BA601–BA605: which broker the actors are really bound to, and whether it can be reached.

These rules read the snapshots' ``brokers`` sections (recorded by ``probe/_tba_brokers.py``
while the real collection ran). BA601, BA603 and BA605 also work on a single snapshot; BA602
compares two; BA604 looks at the baseline (or at the only snapshot there is).

Causal tokens (see ``_rules/__init__.py``): BA605/BA602 are *about* the module and file that
created or set the broker (so a BA101 "variable read by app/broker.py" or a BA406 "plugin
imported app.tasks early" explains them) and have *effects on* ``broker:ID`` and
``target:host:port``; BA601 is about ``broker:ID`` and the actors' modules with effects on the
target; BA603 is about ``target:host:port``. Broker ids are ``Class@host:port`` (``#n`` for
duplicates), stable across snapshots of the same setup.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence

from tox_broker_audit.diagnosis.hooks import hookimpl, rule
from tox_broker_audit.diagnosis.model import DiagnosisContext, Finding, Location, Severity
from tox_broker_audit.snapshot.model import (
    BrokerCreation,
    BrokerInfo,
    BrokerSet,
    BrokersSection,
    DramatiqActor,
    Reachability,
    Snapshot,
)

from ._common import PHASE_WORDS, finding, rel, side_label

__all__ = [
    "actor_real_broker_rule",
    "broker_audit_rules",
    "global_broker_rule",
    "implicit_default_rule",
    "isolation_illusion_rule",
    "unreachable_rule",
]

#: Phases before the test suite's own setup (conftest) could have set a StubBroker.
_EARLY = ("startup", "pytest-import", "plugin-load")
_BAD = ("refused", "timeout", "wrong-protocol", "unresolvable", "error")
_STATUS_WORDS = {
    "refused": "refused the connection",
    "timeout": "did not answer in time",
    "wrong-protocol": "answered, but not as the expected broker",
    "unresolvable": "cannot be resolved",
    "error": "cannot be reached",
}
_MAX_NAMES = 4


# --------------------------------------------------------------------------- helpers


def _section(snapshot: Snapshot | None) -> BrokersSection | None:
    if snapshot is None or not snapshot.brokers.captured:
        return None
    return snapshot.brokers


def _brokers_by_id(section: BrokersSection) -> dict[str, BrokerInfo]:
    out = {b.id: b for b in section.brokers}
    if section.global_broker is not None:
        out.setdefault(section.global_broker.id, section.global_broker)
    return out


def _reach(section: BrokersSection) -> dict[str, Reachability]:
    return {r.target: r for r in section.reachability}


def _is_real(kind: str | None) -> bool:
    return kind in ("rabbitmq", "redis", "other")


def _describe(info: BrokerInfo | None) -> str:
    if info is None:
        return "no broker"
    if info.target:
        return f"{info.cls}({info.url or info.target})"
    return info.cls


_DEFAULT_PORTS = {"amqp": 5672, "pyamqp": 5672, "amqps": 5671, "redis": 6379, "rediss": 6379}


def _url_target(url: str) -> str | None:
    """``host:port`` of a (redacted) broker URL, as the probe computes it for env URLs."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.split(";", 1)[0].strip())
        host, port = parts.hostname or "localhost", parts.port
    except ValueError:
        return None
    port = port or _DEFAULT_PORTS.get(parts.scheme.lower())
    if port is None:
        return None
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _short(info: BrokerInfo | None) -> str:
    """``RabbitmqBroker(127.0.0.1:5672)``: for titles (the redacted URL goes into details)."""
    if info is None:
        return "no broker"
    return f"{info.cls}({info.target})" if info.target else info.cls


def _actor_name(actor: DramatiqActor) -> str:
    return f"{actor.module}.{actor.name}" if actor.module else actor.name


def _names(actors: Sequence[DramatiqActor]) -> str:
    names = [_actor_name(a) for a in actors]
    if len(names) > _MAX_NAMES:
        return ", ".join(names[:_MAX_NAMES]) + f" (+{len(names) - _MAX_NAMES} more)"
    return ", ".join(names)


def _where(ctx: DiagnosisContext, file: str | None, line: int | None) -> str:
    return rel(ctx, file) + (f":{line}" if line else "")


def _location(file: str | None, line: int | None) -> Location | None:
    return Location(file, line) if file and not file.startswith("<") else None


def _creation_of(section: BrokersSection, broker_id: str | None) -> BrokerCreation | None:
    return next((c for c in section.creations if c.broker_id == broker_id), None)


def _last_set(section: BrokersSection, broker_id: str | None) -> BrokerSet | None:
    found = [s for s in section.set_calls if s.broker_id == broker_id]
    return found[-1] if found else None


def _site_tokens(file: str | None, module: str | None) -> list[str]:
    tokens = []
    if module:
        tokens.append(f"module:{module}")
    if file:
        tokens.append(f"file:{file}")
    return tokens


def _creation_tokens(snapshot: Snapshot, creation: BrokerCreation) -> list[str]:
    """The creating code and whatever imported it (plugin, ``.pth``, conftest): the causes."""
    tokens = _site_tokens(creation.file, creation.module)
    plugins = {p.file: p for p in snapshot.pytest.plugins if p.file}
    for frame in creation.stack:
        tokens += _site_tokens(frame.file, frame.module)
        plugin = plugins.get(frame.file or "")
        if plugin is not None:
            tokens.append(f"plugin:{plugin.name}")
            if plugin.distribution:
                tokens.append(f"dist:{plugin.distribution}")
    return tokens


def _dependency_tokens(ctx: DiagnosisContext, module: str | None) -> list[str]:
    """The project modules ``module`` imported itself (on either side): what its choice depends on.

    ``ledger.broker`` picks RabbitMQ because ``ledger.settings`` says so: a finding that
    changed ``ledger.settings`` (a plugin missing under tox) explains the broker difference.
    """
    if not module:
        return []
    out: list[str] = []
    for snap in (ctx.baseline, ctx.target):
        if snap is None:
            continue
        project = {o.module for o in snap.imports.origins if o.in_project}
        for event in snap.imports.timeline:
            same_top = event.module.partition(".")[0] == module.partition(".")[0]
            if event.importer == module and (event.module in project or same_top):
                out.append(f"module:{event.module}")
    return out


def _baseline_site_tokens(ctx: DiagnosisContext) -> list[str]:
    """Where the baseline's global broker was set (or created): code that acts on one side only.

    A finding that this code is missing or different under tox (a local sitecustomize, a
    plugin dropped from deps) then explains the broker difference.
    """
    base = _section(ctx.baseline)
    if base is None or base.global_broker is None:
        return []
    site = _last_set(base, base.global_broker.id) or _creation_of(base, base.global_broker.id)
    return _site_tokens(site.file, site.module) if site is not None else []


def _expects_stub(section: BrokersSection) -> str | None:
    """Why we believe the tests want a StubBroker (None: no sign of it)."""
    if section.global_broker is not None and section.global_broker.kind == "stub":
        return "the global broker at the end of collection is a StubBroker"
    stub_sets = [s for s in section.set_calls if s.cls == "StubBroker" or "Stub" in s.cls]
    if stub_sets:
        return "the test suite calls set_broker() with a StubBroker"
    if any("Stub" in c.cls for c in section.creations):
        return "the test suite creates a StubBroker"
    return None


def _actor_key(actor: DramatiqActor) -> tuple[str | None, str]:
    return actor.module, actor.name


def _importer(ctx: DiagnosisContext, creation: BrokerCreation) -> str | None:
    """``"…/tba_plugin.py:2 (pytest plugin tba_fixture, from tba-fixture-plugin)"``: what
    imported the code that created the broker (the next non-library frame of the stack)."""
    if len(creation.stack) < 2:
        return None
    frame = creation.stack[1]
    where = _where(ctx, frame.file, frame.line)
    plugin = next((p for p in ctx.target.pytest.plugins if p.file and p.file == frame.file), None)
    if plugin is not None:
        dist = f", from {plugin.distribution}" if plugin.distribution else ""
        return f"{where} (pytest plugin {plugin.name}{dist})"
    if frame.file and frame.file.endswith(".pth"):
        return f"{frame.file} (a .pth file run at start-up)"
    if frame.module in ("sitecustomize", "usercustomize"):
        return f"{where} ({frame.module}, run at start-up)"
    return where


def _set_words(ctx: DiagnosisContext, section: BrokersSection, skip: str | None) -> str:
    """How the global broker was set later (the StubBroker that came too late), if it was."""
    later = [s for s in section.set_calls if s.broker_id != skip and not s.implicit_default]
    if not later:
        return ""
    last = later[-1]
    return (
        f"; {last.cls} was set as the global broker later ({_where(ctx, last.file, last.line)}, "
        f"{PHASE_WORDS.get(last.phase, last.phase)}), but set_broker() never rebinds actors that "
        "already exist"
    )


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
        yield _real_broker_finding(ctx, binding, detail)


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


# --------------------------------------------------------------------------- BA603


@dataclasses.dataclass(frozen=True)
class _TargetUsers:
    """What uses one broker target (``host:port``) on the target side."""

    brokers: list[BrokerInfo]  # created for it
    actors: list[DramatiqActor]  # sending there
    is_global: bool  # the global broker points there
    variables: list[str]  # environment variables holding a URL of it
    celery: list[str]  # Celery settings holding a URL of it

    def words(self) -> list[str]:
        """``["2 actor(s) (…) send there", "BROKER_URL points there"]``."""
        users = []
        if self.actors:
            users.append(f"{len(self.actors)} actor(s) ({_names(self.actors)}) send there")
        if self.is_global:
            users.append("it is the global broker")
        if self.brokers and not self.actors and not self.is_global:
            users.append(f"{', '.join(b.id for b in self.brokers)} was created for it")
        if self.variables:
            env = self.variables
            users.append(f"{', '.join(env)} point{'s' if len(env) == 1 else ''} there")
        if self.celery:
            celery = self.celery
            users.append(f"Celery's {', '.join(celery)} point{'s' if len(celery) == 1 else ''} there")
        return users


def _target_users(section: BrokersSection, brokers: dict[str, BrokerInfo], target: str) -> _TargetUsers:
    return _TargetUsers(
        brokers=[b for b in brokers.values() if b.target == target],
        actors=[a for a in section.actors if a.broker_target == target],
        is_global=section.global_broker is not None and section.global_broker.target == target,
        variables=[u.variable for u in section.env_urls if u.target == target],
        celery=[c.setting for c in section.celery_urls if _url_target(c.url) == target],
    )


@rule(needs_baseline=False)
def unreachable_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA603: a bound broker / broker URL target cannot be reached (target side)."""
    section = _section(ctx.target)
    if section is None:
        return
    brokers = _brokers_by_id(section)
    for status in section.reachability:
        if status.status not in _BAD:
            continue
        yield _unreachable_finding(ctx, section, status, _target_users(section, brokers, status.target))


def _unreachable_finding(
    ctx: DiagnosisContext, section: BrokersSection, status: Reachability, users: _TargetUsers
) -> Finding:
    actors, on = users.actors, users.brokers
    words = users.words()
    severity: Severity = "error" if actors or users.is_global else "warning"
    verb = _STATUS_WORDS[status.status]
    tgt = side_label(ctx, "target")
    title = f"{status.target} {verb} {tgt}" + (" — what actor.send() hits" if actors else "")
    detail = (
        f"{status.target} ({status.protocol}) {verb} {tgt}: {status.detail}"
        + (f" (checked in {status.elapsed_ms:g} ms)" if status.elapsed_ms is not None else "")
        + (f". {'; '.join(words)}." if words else ".")
    )
    if actors:
        detail += (
            " dramatiq's RabbitMQ broker retries a failing connection several times before .send() raises."
        )
    fix = (
        "if the tests should not need a broker, bind the actors to a StubBroker (see the BA601/BA605 "
        "findings); "
        f"if they do, make a broker reachable at {status.target} for this run (a CI service container, "
        "or pass the variable holding a reachable broker URL into tox with pass_env)"
    )
    creation = next((c for b in on if (c := _creation_of(section, b.id)) is not None), None)
    return finding(
        "BA603",
        severity,
        title,
        status.target,
        detail,
        fix,
        location=_location(creation.file, creation.line) if creation is not None else None,
        about=[f"target:{status.target}"],
        effects_on=[],
        group="cause",
        score=70.0,
        status=status.status,
        protocol=status.protocol,
        elapsed_ms=status.elapsed_ms,
        brokers=[b.id for b in on],
        actors=[_actor_name(a) for a in actors],
        variables=users.variables,
    )


# --------------------------------------------------------------------------- BA604


@rule(needs_baseline=False)
def isolation_illusion_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA604: the baseline run was bound to a real, reachable broker (tests published for real)."""
    snapshot = ctx.baseline if ctx.baseline is not None else ctx.target
    side = "baseline" if ctx.baseline is not None else "target"
    section = _section(snapshot)
    if section is None or snapshot is None:
        return
    brokers = _brokers_by_id(section)
    reach = _reach(section)
    for broker_id, actors in _real_brokers_used(section, brokers).items():
        info = brokers[broker_id]
        status = reach.get(info.target or "")
        if status is None or status.status != "reachable":
            continue
        yield _isolation_illusion_finding(ctx, side, snapshot, section, info, actors=actors, status=status)


def _real_brokers_used(
    section: BrokersSection, brokers: dict[str, BrokerInfo]
) -> dict[str, list[DramatiqActor]]:
    """Real brokers with a target that actors are bound to (or that is the global broker), by id."""
    used: dict[str, list[DramatiqActor]] = {}
    for actor in section.actors:
        info = brokers.get(actor.broker_id or "")
        if info is not None and _is_real(info.kind) and info.target:
            used.setdefault(info.id, []).append(actor)
    g = section.global_broker
    if g is not None and _is_real(g.kind) and g.target:
        used.setdefault(g.id, [])
    return used


def _isolation_illusion_finding(
    ctx: DiagnosisContext,
    side: str,
    snapshot: Snapshot,
    section: BrokersSection,
    info: BrokerInfo,
    *,
    actors: list[DramatiqActor],
    status: Reachability,
) -> Finding:
    broker_id = info.id
    creation = _creation_of(section, broker_id)
    env = [u.variable for u in section.env_urls if u.target == info.target]
    where = side_label(ctx, side)
    detail = (
        f"{where.capitalize()} {_names(actors) + ' were' if actors else 'the global broker was'} "
        f"bound to {_describe(info)}, and {info.target} answered ({status.detail}). Tests that "
        ".send() there publish "
        "real messages to a real broker: they pass because a broker happens to run on this machine, not "
        "because they are isolated"
    )
    if env:
        detail += f"; {', '.join(env)} point{'s' if len(env) == 1 else ''} there"
    if creation is not None:
        detail += f"; the broker was created at {_where(ctx, creation.file, creation.line)}"
    detail += ". On a machine without that broker (a clean CI runner, tox) the same tests fail or hang."
    about = [f"target:{info.target}", f"broker:{broker_id}"]
    if creation is not None:
        about += _creation_tokens(snapshot, creation)
    about += [f"env:{v}" for v in env]
    return finding(
        "BA604",
        "warning",
        f"{where} the tests were bound to a real, reachable {info.cls} at {info.target}"
        " — the isolation was an illusion",
        info.target or info.cls,
        detail,
        "bind the actors to a StubBroker under test (dramatiq.set_broker(StubBroker()) before the "
        "actors' module is imported, or make the broker module choose StubBroker when testing) and "
        "stop relying on "
        + (f"{', '.join(env)}" if env else "a locally running broker")
        + "; if these are integration tests, provide the broker explicitly in every environment",
        location=_location(creation.file, creation.line) if creation is not None else None,
        about=about,
        effects_on=[],
        group="cause",
        score=60.0,
        side=side,
        broker_id=broker_id,
        actors=[_actor_name(a) for a in actors],
        variables=env,
    )


@hookimpl
def broker_audit_rules() -> list[Callable[[DiagnosisContext], Iterable[Finding]]]:
    return [
        implicit_default_rule,
        actor_real_broker_rule,
        global_broker_rule,
        unreachable_rule,
        isolation_illusion_rule,
    ]
