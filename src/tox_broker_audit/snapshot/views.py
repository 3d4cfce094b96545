"""Views of a snapshot that make two snapshots comparable (pure).

When one side did not run pytest at all — an env whose command the audit cannot emulate
(``PytestSection.not_collected``) — everything the other side learnt *by collecting* is not a
difference between the two environments, only a difference between running pytest and not:
the plugins, conftests and collection errors, the import timeline after start-up, the
dramatiq actors and brokers, the files opened, the ``sys.path`` entries pytest added and the
variables read after start-up. :func:`without_collection` drops them, so the comparison is of
what both sides really have: variables, packages, start-up files and start-up imports.
"""

from __future__ import annotations

import dataclasses

from tox_broker_audit.snapshot.model import BrokersSection, ImportsSection, PytestSection, Snapshot

__all__ = ["collected", "comparable", "without_collection"]

#: ``sys.path`` entries that exist only because pytest ran (rootdir, conftest dirs, ini ``pythonpath``).
_COLLECTION_PATHS = frozenset({"pytest-rootdir", "conftest", "pythonpath-ini", "runtime"})


def collected(snapshot: Snapshot) -> bool:
    """The probe ran pytest as the command would (``False``: it was told not to)."""
    return snapshot.pytest.not_collected is None


def without_collection(snapshot: Snapshot, why: str) -> Snapshot:
    """``snapshot`` as if its probe had not run pytest (``why``: the other side's reason)."""
    if not collected(snapshot):
        return snapshot
    brokers = snapshot.brokers
    return dataclasses.replace(
        snapshot,
        sys_path=tuple(e for e in snapshot.sys_path if e.origin not in _COLLECTION_PATHS),
        environ=dataclasses.replace(
            snapshot.environ,
            reads=tuple(r for r in snapshot.environ.reads if r.phase == "startup"),
            writes=tuple(w for w in snapshot.environ.writes if w.phase == "startup"),
        ),
        pytest=PytestSection(
            available=snapshot.pytest.available, version=snapshot.pytest.version, not_collected=why
        ),
        imports=ImportsSection(
            timeline=tuple(e for e in snapshot.imports.timeline if e.phase == "startup"),
            double_imports=(),
            origins=(),
        ),
        brokers=BrokersSection(
            captured=brokers.captured,
            dramatiq_installed=brokers.dramatiq_installed,
            dramatiq_version=brokers.dramatiq_version,
            pika_installed=brokers.pika_installed,
            redis_installed=brokers.redis_installed,
            env_urls=brokers.env_urls,
            celery_urls=brokers.celery_urls,
            instrumented=brokers.instrumented,
        ),
        opens=(),
    )


def comparable(baseline: Snapshot, target: Snapshot) -> tuple[Snapshot, Snapshot]:
    """Both sides as far as both ran: when one did not collect, the other's collection is dropped."""
    if collected(baseline) and collected(target):
        return baseline, target
    why = target.pytest.not_collected or baseline.pytest.not_collected or "not collected"
    return without_collection(baseline, why), without_collection(target, why)
