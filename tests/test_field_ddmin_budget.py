"""Field test 2026-12-02 (reksus/django-template, docs/field-tests.md): four variables needed
together (ALLOWED_HOST, DB_ENGINE, DB_NAME, SECRET_KEY) among the 16 differences the test
oracle derived. With the default budget (12/60) the three top candidates are each refuted
(the failure only moves on), ddmin finds a set of 8 that cures the tests but runs out of runs
before it is minimal, and the report then says nothing about that cure: no BA701, and the
variables with defaults (DB_USER, DB_PASSWORD, DEBUG) stay ▲ "possible causes".

Fixed: the failure names what to undo next (search._follow), and a cure ddmin could not reduce
within the budget is still reported, as not minimal."""

from __future__ import annotations

from collections.abc import Sequence

from tox_broker_audit.diagnosis.model import Report
from tox_broker_audit.verify.annotate import annotate
from tox_broker_audit.verify.interventions import Intervention
from tox_broker_audit.verify.search import Candidate, Result, search
from tox_broker_audit.verify.symptom import Symptom

NEEDED = ("ALLOWED_HOST", "DB_ENGINE", "DB_NAME", "SECRET_KEY")
VARIABLES = ("ALLOWED_HOST", "DB_ENGINE", "DB_NAME", "DB_PASSWORD", "DB_USER", "DEBUG", "SECRET_KEY")
OTHERS = tuple(f"other-{n}" for n in range(9))  # pytest -c, 7 sys.path overlays, a hidden package


def test_a_cure_ddmin_found_with_the_default_budget_is_reported() -> None:
    good = Symptom(tests=(("the selection's first tests", "passed"),))
    pool = [Intervention(keys=(("env", name),), words=f"with {name} passed into py311") for name in VARIABLES]
    pool += [Intervention(keys=(("other", name),), words=f"with {name}") for name in OTHERS]

    def run(batch: Sequence[Intervention]) -> Sequence[Result]:
        out: list[Result] = []
        for trial in batch:
            given = {key[1] for key in trial.keys}
            missing = [name for name in NEEDED if name not in given]
            failure = f"UndefinedValueError: {missing[0]} not found" if missing else ""
            tests = (("the selection's first tests", "crash" if missing else "passed"),)
            out.append((Symptom(tests=tests, failure=failure), 0.3))
        return out

    bad = run([Intervention(keys=(), words="nothing")])[0][0]
    candidates = [Candidate(f"BA101-{name.lower()}", (pool[i],)) for i, name in enumerate(VARIABLES[:3])]
    outcome = search(good, bad, candidates, pool, run)  # the default budget, as `tox --broker-audit`

    report = annotate(
        Report(env="py311", baseline=None, target=None, findings=(), outcome="failed"), outcome, "py311"
    )
    cures = [f for f in report.findings if f.code == "BA701"]
    assert cures, f"ddmin's cure is dropped: {outcome.runs} runs, minimal_verdict={outcome.minimal_verdict}"
    assert cures[0].subject == "+".join(NEEDED)  # exactly the four, each named by the failure before it
    assert outcome.runs <= 3 + len(NEEDED)
    # ALLOWED_HOST alone got past the first failure only: not refuted (the failure moved on);
    # DB_ENGINE alone does not get past it (the run still stops on ALLOWED_HOST).
    assert outcome.verdicts["BA101-allowed_host"].status == "inconclusive"
    assert outcome.verdicts["BA101-db_engine"].status == "refuted"


def test_a_cure_ddmin_could_not_reduce_within_the_budget_is_reported_as_not_minimal() -> None:
    """The failure names nothing to undo (an assertion): ddmin alone, and 12 runs are too few."""
    good = Symptom(tests=(("t", "passed"),))
    pool = [Intervention(keys=(("env", name),), words=f"with {name} passed into py311") for name in VARIABLES]
    pool += [Intervention(keys=(("other", name),), words=f"with {name}") for name in OTHERS]

    def run(batch: Sequence[Intervention]) -> Sequence[Result]:
        out: list[Result] = []
        for trial in batch:
            cured = set(NEEDED) <= {key[1] for key in trial.keys}
            out.append(
                (
                    Symptom(
                        tests=(("t", "passed" if cured else "failed"),), failure="" if cured else "assert 0"
                    ),
                    0.3,
                )
            )
        return out

    bad = run([Intervention(keys=(), words="nothing")])[0][0]
    outcome = search(good, bad, [], pool, run)
    report = annotate(
        Report(env="py311", baseline=None, target=None, findings=(), outcome="failed"), outcome, "py311"
    )
    (cure,) = [f for f in report.findings if f.code == "BA701"]
    assert set(cure.subject.split("+")) >= set(NEEDED)
    assert cure.verification is not None
    assert cure.verification.status == "confirmed"
    assert "a smaller one may do" in cure.detail
    assert " only " not in cure.title
