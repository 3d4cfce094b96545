"""The verification written into the report: statuses, order, and the BA701 finding.

Pure. Confirmed causes move above every unconfirmed finding; refuted ones leave the causes
(``group`` ``other``, no longer a root cause); a cause only ddmin found becomes a BA701
finding naming the differences it consists of, with the fixes the findings about them give.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from tox_broker_audit.diagnosis.codes import finding_id, slug_of
from tox_broker_audit.diagnosis.engine import on_green
from tox_broker_audit.diagnosis.model import Finding, Report, Verification, VerifiedTests
from tox_broker_audit.verify.interventions import Intervention, keys_of
from tox_broker_audit.verify.search import Candidate, Outcome, Verdict
from tox_broker_audit.verify.symptom import Symptom, describe

__all__ = ["TestsShown", "annotate", "candidates_for", "is_candidate"]


@dataclasses.dataclass(frozen=True)
class TestsShown:
    """The test oracle's side of a verification: the cure looked for, and the failure."""

    want: Symptom
    have: Symptom

    def evidence(self, after: Symptom | None) -> VerifiedTests:
        failing = tuple(name for name, _ in self.have.tests)
        cured = dict(after.tests) if after is not None else {}
        return VerifiedTests(failing, tuple(n for n in failing if cured.get(n) == "passed"))


def is_candidate(finding: Finding) -> bool:
    """A finding that claims a cause (not an effect, not noise); on a passing env, one that
    would claim it had the env failed (its severity before ``on_green`` capped it)."""
    severity = finding.evidence.get("capped_from", finding.severity)
    return finding.group == "cause" and severity in ("error", "warning")


def candidates_for(findings: Sequence[Finding], pool: Sequence[Intervention]) -> list[Candidate]:
    """Per claimed cause, in report order, the interventions that test it (maybe none)."""
    out = []
    for finding in findings:
        keys = set(keys_of(finding.code, finding.subject))
        if not keys or not is_candidate(finding):
            continue
        out.append(Candidate(finding.id, tuple(i for i in pool if keys & set(i.keys))))
    return out


def _verification(verdict: Verdict, tests: TestsShown | None = None) -> Verification:
    effect = describe(verdict.after) if verdict.after is not None else ""
    if tests is None:
        return Verification(verdict.status, verdict.intervention, verdict.runs, verdict.seconds, effect)  # type: ignore[arg-type]
    return Verification(
        verdict.status,  # type: ignore[arg-type]
        verdict.intervention,
        verdict.runs,
        verdict.seconds,
        effect,
        oracle="tests",
        tests=tests.evidence(verdict.after),
    )


def annotate(report: Report, outcome: Outcome, env_name: str, tests: TestsShown | None = None) -> Report:
    """``report`` with each tested finding's verification, re-ordered; BA701 for a ddmin cause
    (``tests``: the test oracle decided, and its evidence goes into each verification)."""
    verdicts = dict(outcome.verdicts)
    extra: list[Finding] = []
    minimal = outcome.minimal_verdict
    if outcome.minimal and minimal is not None and minimal.status == "confirmed":
        owner = _owner(report.findings, outcome.minimal)
        if owner is not None:
            verdicts[owner.id] = minimal
        else:
            extra.append(_combination(report.findings, outcome.minimal, minimal, env_name, tests))
    findings = []
    for finding in report.findings:
        verdict = verdicts.get(finding.id)
        if verdict is None:
            findings.append(finding)
            continue
        changed = dataclasses.replace(finding, verification=_verification(verdict, tests))
        if verdict.status == "refuted":
            changed = dataclasses.replace(changed, group="other", root_cause=False)
        findings.append(changed)
    confirmed = [f for f in (*extra, *findings) if f.verification and f.verification.status == "confirmed"]
    rest = [f for f in findings if f not in confirmed]
    if tests is not None and minimal is not None and minimal.status == "confirmed" and minimal.minimal:
        rest = [_not_needed(f, outcome.minimal) for f in rest]
    # A finding an experiment refuted is no longer first, whatever its score was: the reader
    # (and report.json's findings[0]) sees an unrefuted one before it.
    rest = sorted(rest, key=lambda f: f.verification is not None and f.verification.status == "refuted")
    led = _lead(confirmed, rest)
    if report.outcome == "passed":  # --broker-audit-verify=always on a green env: BA701 too
        reference = report.baseline is not None and report.baseline.kind == "reference"
        led = tuple(on_green(led, reference=reference))
    return dataclasses.replace(report, findings=led)


def _not_needed(finding: Finding, cure: Sequence[Intervention]) -> Finding:
    """An untested claimed cause whose difference is not part of the (1-minimal) cure: the
    failing tests pass without undoing it, so it is not their cause (noise, group ``other``)."""
    keys = set(keys_of(finding.code, finding.subject))
    part = any(keys & set(i.keys) for i in cure)
    tried = finding.verification is not None and finding.verification.status != "untested"
    if tried or not is_candidate(finding) or part or not keys:
        return finding
    return dataclasses.replace(finding, group="other", root_cause=False, severity="info", verification=None)


#: The findings the symptom is made of: the experiment showed that they go away with the cause.
_SYMPTOM_CODES = frozenset(
    {"BA601", "BA602", "BA603", "BA604", "BA605", "BA611", "BA612", "BA613", "BA614", "BA902"}
)


def _lead(confirmed: list[Finding], rest: list[Finding]) -> tuple[Finding, ...]:
    """The first confirmed cause becomes the root of the symptom's findings (they are its effects)."""
    if not confirmed:
        return tuple(rest)
    lead = confirmed[0]
    effects = [f for f in rest if f.code in _SYMPTOM_CODES]
    lead = dataclasses.replace(
        lead,
        root_cause=True,
        group="cause",
        severity="error",
        explains=tuple(dict.fromkeys((*lead.explains, *(f.id for f in effects)))),
    )
    rest = [dataclasses.replace(f, root_cause=False) if f in effects else f for f in rest]
    return (lead, *confirmed[1:], *rest)


def _owner(findings: Sequence[Finding], minimal: Sequence[Intervention]) -> Finding | None:
    """The finding whose claim is exactly the one intervention ddmin kept, if any: a claimed
    cause first, else any finding about that difference (at info: no rule saw it matter)."""
    if len(minimal) != 1:
        return None
    keys = set(minimal[0].keys)
    about = [f for f in findings if keys & set(keys_of(f.code, f.subject))]
    return next((f for f in about if is_candidate(f)), about[0] if about else None)


def _combination(
    findings: Sequence[Finding],
    minimal: Sequence[Intervention],
    verdict: Verdict,
    env_name: str,
    tests: TestsShown | None = None,
) -> Finding:
    minimal = sorted(minimal, key=lambda part: part.keys)
    parts = [part.words for part in minimal]
    fixes, changes = [], []
    for part in minimal:
        about = next((f for f in findings if set(part.keys) & set(keys_of(f.code, f.subject))), None)
        fixes.append(about.fix if about is not None and about.fix else f"make {env_name} run {part.words}")
        if about is not None and about.change is not None and about.location is not None:
            changes.append(_change_of(about))
    subject = "+".join(key[1] or key[0] for part in minimal for key in part.keys[:1])
    together = "together " if len(minimal) > 1 else ""
    effect = describe(verdict.after) if verdict.after is not None else "the baseline's symptom"
    only = "only " if verdict.minimal else ""
    title = (
        f"{env_name} behaves like the local run {only}{parts[0]}"
        if len(parts) == 1
        else f"{env_name} behaves like the local run {only}with {len(parts)} differences undone together: "
        + "; ".join(parts)
    )
    what, result = (
        ("failing tests", "makes them pass") if tests else ("collection", "gives the local run's result")
    )
    code = _code_of(minimal[0]) if len(minimal) == 1 else "BA701"
    return Finding(
        code=code,
        slug=slug_of(code),
        severity="error",
        title=title,
        subject=subject,
        detail=(
            f"No rule named it: re-running {env_name}'s {what} "
            f"{' and '.join(parts)} {together}"
            f"{result} ({effect}); "
            + (
                "with any one part left out it does not."
                if verdict.minimal
                else "the budget ran out before the set was reduced: a smaller one may do "
                "(--broker-audit-verify-budget)."
            )
        ),
        fix="; ".join(dict.fromkeys(fixes)),
        evidence={"parts": parts, **({"changes": changes} if len(changes) == len(minimal) else {})},
        root_cause=True,
        group="cause",
        id=finding_id(code, subject, "combination"),
        score=100.0,
        verification=_verification(verdict, tests),
    )


def _change_of(finding: Finding) -> dict[str, object]:
    """A part's structured change, for ``broker-audit fix`` (report.json ``evidence.changes``)."""
    assert finding.change is not None
    assert finding.location is not None
    location = {"path": finding.location.path, "line": finding.location.line}
    return {"action": finding.change.action, "subject": finding.change.subject, "location": location}


#: The code of a finding about one difference, by the kind of its first key.
_CODE_OF_KIND = {
    "pth": "BA301",
    "sitecustomize": "BA303",
    "path": "BA305",
    "plugin": "BA401",
    "config": "BA403",
    "addopts": "BA403",
    "selection": "BA404",
    "cwd": "BA407",
    "xdist": "BA408",
    "package": "BA201",
    "dist": "BA201",
}


def _code_of(part: Intervention) -> str:
    """What differs, as a finding code: a variable is BA101/102/103 whoever reads it, a package
    hidden from import is BA202 (only under tox); BA701 for what has no code of its own."""
    kind = part.keys[0][0] if part.keys else ""
    if kind == "env":
        return "BA102" if part.env_unset else ("BA101" if "passed into" in part.words else "BA103")
    if part.hide:
        return "BA202"
    return _CODE_OF_KIND.get(kind, "BA701")
