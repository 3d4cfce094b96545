"""Findings and reports (DESIGN §5–§6): what the diagnosis produces and the renderers show."""

import dataclasses
import sys
from collections.abc import Mapping
from typing import Any, Literal, Optional

__all__ = ["REPORT_SCHEMA", "REPORT_SCHEMA_VERSION", "Finding", "Location", "Report", "Severity"]

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
    line: Optional[int] = None


@dataclasses.dataclass(**_FROZEN)
class Finding:
    """One explained difference. ``code``/``slug`` are stable public identifiers (DESIGN §5)."""

    code: str
    slug: str
    severity: Severity
    title: str
    subject: str
    detail: str
    fix: str
    location: Optional[Location] = None
    evidence: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    root_cause: bool = False
    explains: tuple[str, ...] = ()
    id: str = ""
    #: Ranking score: higher is more likely the cause. Not a contract, only an order.
    score: float = 0.0
    group: Group = "other"


@dataclasses.dataclass(**_FROZEN)
class Report:
    """The diagnosis of one baseline/target pair, findings ordered most-likely cause first."""

    env: Optional[str]
    baseline: Mapping[str, Any]
    target: Mapping[str, Any]
    findings: tuple[Finding, ...]

    @property
    def summary(self) -> dict[str, int]:
        counts = {"error": 0, "warning": 0, "info": 0}
        for finding in self.findings:
            counts[finding.severity] += 1
        return counts
