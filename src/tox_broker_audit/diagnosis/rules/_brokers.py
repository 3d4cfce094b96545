"""What the broker rules (:mod:`.brokers`, :mod:`.reachability`) share: reading a snapshot's
``brokers`` section, naming brokers and actors, and the causal tokens of where a broker was
created or set."""

from __future__ import annotations

from collections.abc import Sequence

from tox_broker_audit.diagnosis.model import DiagnosisContext, Location
from tox_broker_audit.snapshot.model import (
    BrokerCreation,
    BrokerInfo,
    BrokerSet,
    BrokersSection,
    DramatiqActor,
    Reachability,
    Snapshot,
)

from ._common import PHASE_WORDS, rel

__all__: list[str] = []

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
    """Where the baseline's global broker was set or created, and the code that led there.

    A finding that this code is missing or different under tox (a local sitecustomize, a
    plugin dropped from deps) then explains the broker difference. The creation's stack
    counts too: pytest-django's ``django.setup()`` runs django_dramatiq's ``ready()``, which
    creates and sets the StubBroker, so a pytest-django missing under tox explains it.
    """
    base = _section(ctx.baseline)
    if ctx.baseline is None or base is None or base.global_broker is None:
        return []
    setter = _last_set(base, base.global_broker.id)
    creation = _creation_of(base, base.global_broker.id)
    tokens = _site_tokens(setter.file, setter.module) if setter is not None else []
    if creation is not None:
        tokens += _creation_tokens(ctx.baseline, creation)
    return tokens


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
