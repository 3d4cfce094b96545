"""The ``json`` format: report.json exactly as docs/architecture.md (Contracts) describes it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from tox_broker_audit._sanitize import clean
from tox_broker_audit.diagnosis.model import REPORT_SCHEMA, REPORT_SCHEMA_VERSION, Finding, Report

__all__ = ["JsonRenderer", "finding_to_dict", "report_to_dict"]


def jsonable(value: Any) -> Any:
    """JSON-safe and clean: tuples become lists, every string (keys too) goes through
    :func:`~tox_broker_audit._sanitize.clean` (redacted, then neutralised)."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, Mapping):
        return {clean(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v) for v in items]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return clean(value)


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    location = None
    if finding.location is not None:
        location = {"path": finding.location.path, "line": finding.location.line}
    data = {
        "id": finding.id,
        "code": finding.code,
        "slug": finding.slug,
        "severity": finding.severity,
        "title": finding.title,
        "subject": finding.subject,
        "detail": finding.detail,
        "fix": finding.fix,
        "location": location,
        "evidence": finding.evidence,
        "root_cause": finding.root_cause,
        "explains": list(finding.explains),
        "group": finding.group,
        "score": finding.score,
        "verification": finding.verification,
    }
    result: dict[str, Any] = jsonable(data)
    return result


def report_to_dict(report: Report) -> dict[str, Any]:
    """report.json as a dict: schema, schema_version, env, baseline, target, summary, findings."""
    return {
        "schema": REPORT_SCHEMA,
        "schema_version": REPORT_SCHEMA_VERSION,
        "env": jsonable(report.env),
        "baseline": jsonable(report.baseline),
        "target": jsonable(report.target),
        "outcome": jsonable(report.outcome),
        "summary": report.summary,
        "findings": [finding_to_dict(f) for f in report.findings],
    }


class JsonRenderer:
    name = "json"

    def __call__(self, report: Report, options: Any, /) -> str:
        return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False) + "\n"
