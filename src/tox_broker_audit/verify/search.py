"""The search: which difference, undone in the target, makes its symptom the baseline's.

Pure: the re-probes happen behind ``run`` (a batch of interventions in, one ``(symptom or
None, seconds)`` per intervention out; the front door's runner runs a batch in parallel).
First the rule-ranked candidates are tried (each finding's own interventions); when none
explains the symptom, delta debugging (ddmin, Zeller and Hildebrandt 2002) over every
applicable intervention finds a 1-minimal set that does. Everything stays within the
budget's re-probe count and seconds; nothing runs when the symptoms are already equal.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from tox_broker_audit._options import Budget
from tox_broker_audit.verify.interventions import Intervention, combine
from tox_broker_audit.verify.symptom import Symptom

__all__ = ["Budget", "Candidate", "Outcome", "Runner", "Verdict", "search"]

Result = tuple["Symptom | None", float]
Runner = Callable[[Sequence[Intervention]], Sequence[Result]]
_DEFAULT = Budget()  # frozen: a shared default is safe


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A finding and the interventions that test its claim."""

    finding_id: str
    interventions: tuple[Intervention, ...]


@dataclasses.dataclass(frozen=True)
class Verdict:
    status: str  # "confirmed" | "refuted" | "untested" | "inconclusive"
    intervention: str
    runs: int = 0
    seconds: float = 0.0
    #: The target's symptom with the intervention applied (None: not run, or the probe failed).
    after: Symptom | None = None
    #: False for a cure the search could not reduce further within the budget (a smaller set may do).
    minimal: bool = True


@dataclasses.dataclass(frozen=True)
class Outcome:
    verdicts: Mapping[str, Verdict]
    #: The 1-minimal set ddmin found (empty when it did not run or found nothing).
    minimal: tuple[Intervention, ...] = ()
    minimal_verdict: Verdict | None = None
    runs: int = 0
    seconds: float = 0.0


class _Session:
    """Counts re-probes and seconds against the budget; remembers what a set gave."""

    def __init__(self, want: Symptom, run: Runner, budget: Budget, clock: Callable[[], float]) -> None:
        self.want, self.run, self.budget, self.clock = want, run, budget, clock
        self.started = clock()
        self.runs = 0
        self.cache: dict[frozenset[tuple[str, str]], Result] = {}
        self.have = Symptom()

    def left(self) -> int:
        if self.clock() - self.started >= self.budget.seconds:
            return 0
        return max(0, self.budget.runs - self.runs)

    def batch(self, trials: Sequence[Intervention]) -> list[Result | None]:
        """Results in order; None for a trial the budget did not allow."""
        todo: list[Intervention] = []
        for trial in trials:
            if frozenset(trial.keys) not in self.cache and trial not in todo and len(todo) < self.left():
                todo.append(trial)
        if todo:
            for trial, result in zip(todo, self.run(todo)):
                self.cache[frozenset(trial.keys)] = result
            self.runs += len(todo)
        return [self.cache.get(frozenset(trial.keys)) for trial in trials]

    def explains(self, result: Result | None) -> bool:
        return result is not None and result[0] == self.want

    def moved(self, result: Result | None, before: Symptom) -> bool:
        """The tests still fail, but no longer as ``before`` did: the intervention got past
        the first failure (one part of several needed together), so it is not refuted."""
        if result is None or result[0] is None or not before.tests:
            return False
        after = result[0]
        return (after.tests, after.failure) != (before.tests, before.failure)

    @property
    def seconds(self) -> float:
        return self.clock() - self.started


def search(  # noqa: PLR0917 - the verify stage's one call site
    baseline: Symptom,
    target: Symptom,
    candidates: Sequence[Candidate],
    pool: Sequence[Intervention],
    run: Runner,
    budget: Budget = _DEFAULT,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome:
    """Verify ``candidates`` (most likely first), then ddmin over ``pool`` if none explains."""
    if baseline == target:
        return Outcome(verdicts={})
    session = _Session(baseline, run, budget, clock)
    session.have = target
    verdicts = _candidates(session, candidates[: budget.candidates])
    for candidate in candidates[budget.candidates :]:
        verdicts[candidate.finding_id] = _untested(candidate, "not tried: the top candidates come first")
    minimal: tuple[Intervention, ...] = ()
    minimal_verdict = None
    if budget.ddmin and not any(v.status == "confirmed" for v in verdicts.values()):
        testable = _unique(i for i in pool if not i.untestable)
        followed = _follow(session, testable) if testable else None
        if followed is not None:
            minimal, minimal_verdict = followed
        elif testable:
            minimal, minimal_verdict = _ddmin(session, testable)
    return Outcome(verdicts, minimal, minimal_verdict, session.runs, round(session.seconds, 2))


def _unique(items: Iterable[Intervention]) -> list[Intervention]:
    out: list[Intervention] = []
    seen: set[frozenset[tuple[str, str]]] = set()
    for item in items:
        if frozenset(item.keys) not in seen:
            seen.add(frozenset(item.keys))
            out.append(item)
    return out


def _untested(candidate: Candidate, why: str) -> Verdict:
    if not candidate.interventions:
        return Verdict("untested", why)
    words = " or ".join(i.words for i in candidate.interventions)
    reasons = [i.untestable for i in candidate.interventions if i.untestable]
    return Verdict("untested", f"{words} ({reasons[0] if reasons else why})")


def _candidates(session: _Session, candidates: Sequence[Candidate]) -> dict[str, Verdict]:
    trials = _unique(i for c in candidates for i in c.interventions if not i.untestable)
    started = session.clock()
    results = dict(zip((frozenset(t.keys) for t in trials), session.batch(trials)))
    wall = session.clock() - started
    verdicts: dict[str, Verdict] = {}
    for candidate in candidates:
        mine = [i for i in candidate.interventions if not i.untestable]
        if not mine:
            verdicts[candidate.finding_id] = _untested(candidate, "no experiment for this difference")
            continue
        ran = [(i, results.get(frozenset(i.keys))) for i in mine]
        done = [(i, r) for i, r in ran if r is not None]
        seconds = round(max((r[1] for _, r in done), default=wall), 2)
        hit = next(((i, r) for i, r in done if session.explains(r)), None)
        if hit is not None:
            verdicts[candidate.finding_id] = Verdict("confirmed", hit[0].words, len(done), seconds, hit[1][0])
        elif not done:
            verdicts[candidate.finding_id] = _untested(candidate, "the re-probe budget ran out")
        elif any(r[0] is None for _, r in done) or len(done) < len(mine):
            verdicts[candidate.finding_id] = Verdict(
                "inconclusive", " or ".join(i.words for i, _ in done), len(done), seconds
            )
        elif any(session.moved(r, session.have) for _, r in done):
            last = next(r[0] for _, r in done if session.moved(r, session.have))
            verdicts[candidate.finding_id] = Verdict(
                "inconclusive", " or ".join(i.words for i, _ in done), len(done), seconds, last
            )
        else:
            last = done[-1][1][0]
            verdicts[candidate.finding_id] = Verdict(
                "refuted", " or ".join(i.words for i, _ in done), len(done), seconds, last
            )
    return verdicts


def _named(failure: str, items: Sequence[Intervention], taken: Sequence[Intervention]) -> list[Intervention]:
    """The interventions about what ``failure`` names (``UndefinedValueError: DB_ENGINE not
    found``, ``No module named 'redis'``), not yet taken."""
    import re

    words = set(re.findall(r"[A-Za-z_][\w.-]*", failure))
    return [i for i in items if i not in taken and any(key[1] and key[1] in words for key in i.keys)]


def _follow(session: _Session, items: list[Intervention]) -> tuple[tuple[Intervention, ...], Verdict] | None:
    """Follow the failure: undo what it names, and again what the next failure names, while
    each step gets past the one before (several variables needed together, each missing one
    stopping the run in turn). The set that cures is 1-minimal by construction: without any
    part, the failure that named it comes back. None when the failure names nothing to undo
    or a step does not get past it (ddmin searches then)."""
    runs_before, started = session.runs, session.clock()
    taken: list[Intervention] = []
    before = session.have
    while session.left() > 0:
        named = _named(before.failure, items, taken)
        if not named:
            return None
        result = session.batch([combine([*taken, named[0]])])[0]
        if session.explains(result):
            taken.append(named[0])
            verdict = Verdict(
                "confirmed",
                combine(taken).words,
                session.runs - runs_before,
                round(session.clock() - started, 2),
                result[0] if result else None,
            )
            return tuple(taken), verdict
        if not session.moved(result, before) or result is None or result[0] is None:
            return None
        taken.append(named[0])
        before = result[0]
    return None


def _ddmin(session: _Session, items: list[Intervention]) -> tuple[tuple[Intervention, ...], Verdict]:
    """A 1-minimal subset of ``items`` whose combination explains the symptom."""
    runs_before, started = session.runs, session.clock()
    whole = session.batch([combine(items)])[0]
    if not session.explains(whole):
        why = "the budget ran out" if whole is None else "not even all differences together explain it"
        return (), Verdict(
            "inconclusive",
            f"every applicable difference undone at once ({why})",
            session.runs - runs_before,
            round(session.clock() - started, 2),
        )
    current, n = list(items), 2
    exhausted = False
    while len(current) >= 2:
        chunks = _split(current, n)
        reduced = _first_explaining(session, chunks)
        if reduced is None and n > 2:
            complements = [[i for i in current if i not in chunk] for chunk in chunks]
            reduced = _first_explaining(session, complements)
            if reduced is not None:
                current, n = reduced, max(n - 1, 2)
                continue
        elif reduced is not None:
            current, n = reduced, 2
            continue
        if session.left() == 0:
            exhausted = True
            break
        if n >= len(current):
            break
        n = min(len(current), 2 * n)
    result = session.cache.get(frozenset(combine(current).keys))
    # Every set kept explains the symptom: with the budget spent it is still a cure, only maybe
    # not the smallest (the finding says so).
    return tuple(current), Verdict(
        "confirmed",
        combine(current).words,
        session.runs - runs_before,
        round(session.clock() - started, 2),
        result[0] if result else None,
        minimal=not exhausted,
    )


def _split(items: list[Intervention], n: int) -> list[list[Intervention]]:
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for index in range(n):
        end = start + size + (1 if index < extra else 0)
        if end > start:
            out.append(items[start:end])
        start = end
    return out


def _first_explaining(session: _Session, subsets: list[list[Intervention]]) -> list[Intervention] | None:
    results = session.batch([combine(s) for s in subsets])
    for subset, result in zip(subsets, results):
        if session.explains(result):
            return subset
    return None
