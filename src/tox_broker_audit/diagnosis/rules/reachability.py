"""BA603, BA604: whether the brokers the runs use can be reached, and what that hides.

BA603 is about ``target:host:port`` (explained by the broker findings of :mod:`.brokers`
that point there); BA604 looks at the baseline (or the only snapshot there is): a local run
bound to a real, reachable broker only passes because one happens to run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator

from tox_broker_audit.diagnosis.hooks import hookimpl, rule
from tox_broker_audit.diagnosis.model import DiagnosisContext, Finding, Severity
from tox_broker_audit.probe._tba_urls import parse_url_target
from tox_broker_audit.snapshot.model import (
    BrokerInfo,
    BrokersSection,
    DramatiqActor,
    Reachability,
    Snapshot,
)

from ._brokers import (
    _BAD,
    _STATUS_WORDS,
    _actor_name,
    _brokers_by_id,
    _creation_of,
    _creation_tokens,
    _describe,
    _is_real,
    _location,
    _names,
    _reach,
    _section,
    _where,
)
from ._common import finding, side_label

__all__ = ["broker_audit_rules", "isolation_illusion_rule", "unreachable_rule"]


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
        celery=[c.setting for c in section.celery_urls if parse_url_target(c.url)[1] == target],
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
    return [unreachable_rule, isolation_illusion_rule]
