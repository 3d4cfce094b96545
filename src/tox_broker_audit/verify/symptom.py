"""The symptom: a comparable summary of what the user's failure depends on, from one snapshot.

Computed the same way from either side: per dramatiq actor the broker it is bound to (class
and endpoint), the global broker, whether those endpoints answer, the collection errors
(where, exception type, redacted message) and a crash of the collection itself. Paths in
messages are anchored (:meth:`..snapshot.anchors.Anchors.text`: relative to the snapshot's
own project root, ``<prefix>`` for its env, …), so a local run and a tox env (another venv,
the same checkout) or a reference saved in another checkout compare equal when they behave
the same. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import re

from tox_broker_audit.probe._tba_redact import redact_text
from tox_broker_audit.snapshot.anchors import Anchors, anchors_of
from tox_broker_audit.snapshot.model import Snapshot

__all__ = ["Symptom", "describe", "passing", "symptom_of", "tests_symptom"]

_EXC = re.compile(r"^(?:E\s+)?([A-Za-z_][\w.]*(?:Error|Exception|Failure|Exit|Interrupt|Warning))\b")


@dataclasses.dataclass(frozen=True)
class Symptom:
    """Equal symptoms mean the two runs give the tests the same brokers and the same errors."""

    #: ``(actor, broker class, endpoint)``, sorted; endpoint ``""`` for a stub.
    actors: tuple[tuple[str, str, str], ...] = ()
    #: ``(broker class, endpoint)`` of ``dramatiq.get_broker()`` at the end, or None.
    global_broker: tuple[str, str] | None = None
    #: ``(endpoint, answers)`` for every endpoint of a bound or global broker, sorted.
    endpoints: tuple[tuple[str, bool], ...] = ()
    #: ``(where, exception type, message)`` of every collection error, sorted.
    errors: tuple[tuple[str, str, str], ...] = ()
    #: The exception pytest stopped on before collecting, or None.
    crash: str | None = None
    #: The test oracle: ``(test, outcome)`` of each failing test re-run, paths anchored
    #: (only this is compared then: the tests passing is the cure, whatever else changed).
    tests: tuple[tuple[str, str], ...] = ()
    #: The first failure's message when a test still fails (what moved, not compared).
    failure: str = dataclasses.field(default="", compare=False)


def _normalise(text: str, anchors: Anchors) -> str:
    return anchors.text(redact_text(text)).strip()


def _exception_type(message: str) -> str:
    match = _EXC.match(message.strip())
    return match.group(1).rsplit(".", 1)[-1] if match else ""


def symptom_of(snapshot: Snapshot, root: str) -> Symptom:
    """The symptom of ``snapshot``, paths anchored; ``root``: the project root of a snapshot
    that records none (a recorded ``meta.project_root`` wins: a reference from elsewhere)."""
    brokers = snapshot.brokers
    actors = tuple(sorted((a.name, a.broker_class or "", a.broker_target or "") for a in brokers.actors))
    glob = brokers.global_broker
    global_broker = (glob.cls, glob.target or "") if glob is not None else None
    wanted = {target for _, _, target in actors if target}
    if global_broker is not None and global_broker[1]:
        wanted.add(global_broker[1])
    answers: dict[str, bool] = {}
    for reach in brokers.reachability:
        if reach.target in wanted:
            answers[reach.target] = answers.get(reach.target, False) or reach.status == "reachable"
    anchors = anchors_of(snapshot, root)
    errors = tuple(
        sorted(
            (
                _normalise(error.nodeid, anchors),
                _exception_type(error.message),
                _normalise(error.message, anchors),
            )
            for error in snapshot.pytest.collection_errors
        )
    )
    crash = snapshot.pytest.crash
    return Symptom(
        actors=actors,
        global_broker=global_broker,
        endpoints=tuple(sorted(answers.items())),
        errors=errors,
        crash=_normalise(crash, anchors) if crash else None,
    )


def _test_name(test_id: str, anchors: Anchors) -> str:
    return anchors.text(test_id).strip()


#: What the oracle runs when pytest stopped before any test ran (no test to name).
FIRST_TESTS = "the selection's first tests"


def tests_symptom(snapshot: Snapshot, ids: tuple[str, ...], root: str) -> Symptom:
    """The outcome of each of ``ids`` in ``snapshot`` (a test the run did not reach: ``missing``);
    no ``ids``: whether the selection's first tests ran and passed (pytest crashed before)."""
    anchors = anchors_of(snapshot, root)
    ran = {t.id: t for t in snapshot.pytest.tests}
    crash = snapshot.pytest.crash
    if not ids:
        failed = next((t for t in ran.values() if t.outcome == "failed"), None)
        outcome = "crash" if crash else ("missing" if not ran else ("failed" if failed else "passed"))
        message = crash or (failed.message if failed else "")
        return Symptom(
            tests=((FIRST_TESTS, outcome),), failure=_normalise(message, anchors) if message else ""
        )
    tests = tuple((_test_name(i, anchors), ran[i].outcome if i in ran else "missing") for i in ids)
    first = next((ran[i] for i in ids if i in ran and ran[i].outcome == "failed"), None)
    message = first.message if first is not None else (crash if crash and not ran else "")
    return Symptom(tests=tests, failure=_normalise(message, anchors) if message else "")


def passing(ids: tuple[str, ...], snapshot: Snapshot, root: str) -> Symptom:
    """The cure the oracle looks for: every one of ``ids`` passes (none: the first tests do)."""
    if not ids:
        return Symptom(tests=((FIRST_TESTS, "passed"),))
    anchors = anchors_of(snapshot, root)
    return Symptom(tests=tuple((_test_name(i, anchors), "passed") for i in ids))


def _describe_tests(symptom: Symptom, limit: int) -> str:
    passed = [name for name, outcome in symptom.tests if outcome == "passed"]
    failed = [name for name, outcome in symptom.tests if outcome != "passed"]
    if not failed:
        if passed == [FIRST_TESTS]:
            return f"{FIRST_TESTS} run and pass"
        more = f" and {len(passed) - 1} more" if len(passed) > 1 else ""
        return f"{passed[0]}{more} pass{'es' if len(passed) == 1 else ''}"
    shown = _names(failed, limit)
    why = f" ({symptom.failure})" if symptom.failure else ""
    plural = len(failed) > 1 or failed == [FIRST_TESTS]
    return f"{shown} still fail{'' if plural else 's'}{why}"


def describe(symptom: Symptom, limit: int = 3) -> str:
    """A short phrase for reports: ``send_welcome and record_signup bind to StubBroker``."""
    if symptom.tests:
        return _describe_tests(symptom, limit)
    if symptom.crash:
        return f"pytest stops before collecting: {symptom.crash}"
    if symptom.errors:
        where = ", ".join(error[0] for error in symptom.errors[:limit])
        more = f" and {len(symptom.errors) - limit} more" if len(symptom.errors) > limit else ""
        return f"collection errors in {where}{more}"
    if symptom.actors:
        by_broker: dict[str, list[str]] = {}
        for name, cls, target in symptom.actors:
            shown = f"{cls or 'no broker'}" + (f" at {target}" if target else "")
            by_broker.setdefault(shown, []).append(name)
        parts = [
            f"{_names(names, limit)} bind{'s' if len(names) == 1 else ''} to {broker}"
            for broker, names in by_broker.items()
        ]
        return "; ".join(parts)
    if symptom.global_broker is not None:
        return f"the global broker is {symptom.global_broker[0]}"
    return "no actor, broker or collection error"


def _names(names: list[str], limit: int) -> str:
    if len(names) > limit:
        return f"{', '.join(names[:limit])} and {len(names) - limit} more"
    return " and ".join(names) if len(names) <= 2 else f"{', '.join(names[:-1])} and {names[-1]}"
