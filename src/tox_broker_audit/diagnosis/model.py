"""What the diagnosis works on and produces: its context, findings, fixes and the report.

A leaf of the ``diagnosis`` package: rules, the engine, the registry and every renderer
import it; it imports only the snapshot model and the diff. The finding and report fields
are the public report.json contract (docs/findings.md, docs/architecture.md).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from tox_broker_audit.diff import SnapshotDiff
from tox_broker_audit.snapshot.model import Snapshot

__all__ = [
    "REPORT_SCHEMA",
    "REPORT_SCHEMA_VERSION",
    "SEVERITY_ORDER",
    "DiagnosisContext",
    "Edit",
    "Finding",
    "Fix",
    "FixAction",
    "Group",
    "Location",
    "Report",
    "RunInfo",
    "Severity",
    "ToxFacts",
    "Verification",
    "VerificationStatus",
    "VerifiedTests",
]

REPORT_SCHEMA = "tox-broker-audit/report"
REPORT_SCHEMA_VERSION = 1

_FROZEN: dict[str, bool] = {"frozen": True}
if sys.version_info >= (3, 10):  # pragma: no branch
    _FROZEN["slots"] = True

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: Mapping[str, int] = {"error": 0, "warning": 1, "info": 2}

#: How a finding is grouped for the reader: ``cause`` is something the code used (ranked
#: first), ``other`` a difference nobody touched, ``expected`` tox's own noise.
Group = Literal["cause", "other", "expected"]


@dataclasses.dataclass(**_FROZEN)
class Location:
    path: str
    line: int | None = None


#: What a structured fix changes. Each front door words it its own way (``pass_env = X`` at
#: ``tox.ini:4`` for tox, ``session.env["X"]`` for nox); see :mod:`.wording`.
FixAction = Literal[
    "pass_env",  # pass the variable ``subject`` into the env (``value``: its local value, not secret)
    "set_env",  # set ``subject`` in the env (something sets it at run time locally)
    "unset_env",  # stop setting ``subject`` in the env
    "override_env",  # the env overrides ``subject`` with another value
    "add_dep",  # install distribution ``subject`` in the env
    "pin_dep",  # install ``subject`` at version ``value``
    "editable",  # install the project editable (``value``: "match" a local -e install | "rebuild")
    "python_path",  # put ``value`` (relative to the project root) on sys.path, as PYTHONPATH did
]


@dataclasses.dataclass(**_FROZEN)
class Fix:
    """A fix as data: what to change (``action``) on what (``subject``), to which ``value``."""

    action: FixAction
    subject: str = ""
    value: str = ""


#: What re-running the target with the finding's difference undone showed (docs/findings.md).
VerificationStatus = Literal["confirmed", "refuted", "untested", "inconclusive"]


@dataclasses.dataclass(**_FROZEN)
class Verification:
    """The experiment behind a finding: ``intervention`` in words, ``runs`` re-probes, ``seconds``;
    ``effect``: what the target's run looked like with it (``send_welcome binds to StubBroker``)."""

    status: VerificationStatus
    intervention: str
    runs: int = 0
    seconds: float = 0.0
    effect: str = ""
    #: What decided: ``tests`` (the env's failing tests pass with the intervention) or
    #: ``collection`` (the collection symptom becomes the baseline's).
    oracle: Literal["tests", "collection"] = "collection"
    tests: VerifiedTests | None = None


@dataclasses.dataclass(**_FROZEN)
class VerifiedTests:
    """The test oracle's evidence: the env's failing tests, and those that pass with the change."""

    failing: tuple[str, ...] = ()
    passing: tuple[str, ...] = ()


@dataclasses.dataclass(**_FROZEN)
class Edit:
    """A change of the user's tox configuration that writes a confirmed cause's fix (``fix/``):
    lines ``line``..``end_line`` of ``path`` (1-based, inclusive) read ``before`` and become
    ``after`` (whole lines, each with its line ending). Never a secret's value: a variable is
    passed (``pass_env``), not written."""

    #: Whole lines of the file: cleaned line by line, their endings kept (``_sanitize``).
    MULTILINE_FIELDS: ClassVar[tuple[str, ...]] = ("before", "after")

    path: str
    line: int
    end_line: int
    before: str
    after: str


@dataclasses.dataclass(**_FROZEN)
class Finding:
    """One explained difference. ``code``/``slug`` are stable public identifiers (:mod:`.codes`).

    A rule gives either ``fix`` (free text) or ``change`` (a structured :class:`Fix`); the
    diagnosis words a ``change`` for the front door into ``fix`` (and ``location``, where the
    front door knows the config line).

    ``about`` / ``effects_on`` are the causal-link tokens (``env:NAME``, ``module:a.b``…,
    see ``diagnosis/rules/__init__.py``): this finding *explains* another when its
    ``effects_on`` and the other's ``about`` share a token. Rules written before these fields
    put the tokens in ``evidence["about"]`` / ``evidence["effects_on"]``; the diagnosis moves
    them here (:func:`~tox_broker_audit.diagnosis.links.adopt_links`).
    """

    code: str
    slug: str
    severity: Severity
    title: str
    subject: str
    detail: str
    fix: str
    location: Location | None = None
    evidence: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    root_cause: bool = False
    explains: tuple[str, ...] = ()
    id: str = ""
    #: Ranking score: higher is more likely the cause. Not a contract, only an order.
    score: float = 0.0
    group: Group = "other"
    change: Fix | None = None
    verification: Verification | None = None
    about: tuple[str, ...] = ()
    effects_on: tuple[str, ...] = ()
    #: A confirmed cause's fix as the change of the config file tox read (``fix/``): what
    #: ``--broker-audit-fix`` and ``broker-audit fix`` write; empty when it is not a config change.
    edits: tuple[Edit, ...] = ()


@dataclasses.dataclass(**_FROZEN)
class RunInfo:
    """Where one side's snapshot came from: report.json's ``baseline`` / ``target`` object.

    ``kind`` is the snapshot's source kind (``tox-env``, ``plain-pytest``, ``cli``,
    ``pytest-run``, ``nox-session``, ``reference``); ``emulates`` says in one line what the
    snapshot emulates (command, cwd, interpreter). A side that was not captured is ``None`` on
    the :class:`Report` (report.json keeps writing ``{"kind": "none", …}`` for it).
    """

    kind: str
    name: str | None
    description: str
    emulates: str
    python: str
    python_version: str
    invocation: str
    command: tuple[str, ...]
    cwd: str
    created: str
    tool_version: str


@dataclasses.dataclass(**_FROZEN)
class Report:
    """The diagnosis of one baseline/target pair, findings ordered most-likely cause first.

    ``baseline`` / ``target``: where each snapshot came from, ``None`` for a side that was not
    captured (no snapshot, or a single-snapshot audit).
    """

    env: str | None
    baseline: RunInfo | None
    target: RunInfo | None
    findings: tuple[Finding, ...]
    #: How the audited test run ended, when the front door knows: "passed" | "failed".
    outcome: str | None = None

    @property
    def summary(self) -> dict[str, int]:
        counts = {"error": 0, "warning": 0, "info": 0}
        for finding in self.findings:
            counts[finding.severity] += 1
        return counts


@dataclasses.dataclass(frozen=True)
class ToxFacts:
    """What the tox plugin knows about the env under audit (used for concrete fixes)."""

    ini_path: str | None = None
    ini_section: str | None = None  # "testenv" or "testenv:py312"
    section_line: int | None = None
    pass_env: tuple[str, ...] = ()
    set_env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    package: str | None = None  # "wheel" | "sdist" | "editable" | "skip"
    #: Where each dependency of the env is declared (canonical name -> file and line): its
    #: ``deps`` line, a requirements file, a pyproject.toml extra (drift points there).
    dependency_lines: Mapping[str, Location] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class DiagnosisContext:
    """What every rule receives. ``baseline``/``diff`` are ``None`` in single-snapshot mode."""

    baseline: Snapshot | None
    target: Snapshot
    diff: SnapshotDiff | None = None
    tox: ToxFacts | None = None
    env_name: str | None = None
    #: The diagnosis re-words a per-run fact the baseline shows too (BA601, BA603…): with this
    #: set, the target side is said "in both runs" (``wording.side_label``), not "under tox".
    in_both_runs: bool = False
    #: Scratch space for derived facts shared between rules (see ``rules._common``).
    cache: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)
