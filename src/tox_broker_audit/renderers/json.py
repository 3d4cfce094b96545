"""The ``json`` format: report.json exactly as docs/architecture.md (Contracts) describes it.

The keys come from the dataclasses' fields (:class:`Report`, :class:`Finding`, :class:`RunInfo`
and the nested :class:`Location`, :class:`Fix`, :class:`Verification`), so a field added to
the model is a key of report.json and cannot be forgotten here. The deliberate differences,
all in this module:

- the report starts with ``schema`` and ``schema_version``, has ``summary`` (a property: the
  counts by severity) and ends with ``findings`` (the long part);
- a finding starts with ``id`` (what a reader looks for first);
- a side that was not captured (``Report.baseline``/``target`` is ``None``) is written
  ``{"kind": "none", "description": "no snapshot"}``, as before the model was typed;
- a finding's ``evidence`` also holds ``about`` and ``effects_on``: copies of the top-level
  keys, kept for readers of schema_version 1 written before the links were fields.

The shipped JSON Schema (``tox_broker_audit/report.schema.json``) describes the result.
Every string goes through :func:`jsonable` (redacted, then neutralised).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from tox_broker_audit._sanitize import MULTILINE, clean, clean_lines
from tox_broker_audit.diagnosis.links import LINK_KEYS, adopt_links
from tox_broker_audit.diagnosis.model import REPORT_SCHEMA, REPORT_SCHEMA_VERSION, Finding, Report, RunInfo

__all__ = ["NOT_CAPTURED", "JsonRenderer", "finding_to_dict", "report_to_dict", "run_info_to_dict"]

#: report.json's ``baseline``/``target`` for a side that was not captured.
NOT_CAPTURED: Mapping[str, str] = {"kind": "none", "description": "no snapshot"}


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
        lines = getattr(type(value), MULTILINE, ())
        return {
            clean(f.name): clean_lines(getattr(value, f.name))
            if f.name in lines
            else jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
        }
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return clean(value)


def _fields(obj: Any) -> dict[str, Any]:
    """A dataclass instance's fields by name, in declaration order (not converted)."""
    return {field.name: getattr(obj, field.name) for field in dataclasses.fields(obj)}


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    """One finding of report.json: every field of :class:`Finding`, ``id`` first."""
    data = _fields(adopt_links(finding))
    data = {"id": data.pop("id"), **data}
    data["evidence"] = {**data["evidence"], **{key: data[key] for key in LINK_KEYS}}
    result: dict[str, Any] = jsonable(data)
    return result


def run_info_to_dict(info: RunInfo | None) -> dict[str, Any]:
    """``baseline``/``target`` of report.json: every field of :class:`RunInfo`, or
    :data:`NOT_CAPTURED`."""
    result: dict[str, Any] = jsonable(NOT_CAPTURED if info is None else _fields(info))
    return result


def report_to_dict(report: Report) -> dict[str, Any]:
    """report.json as a dict: schema, schema_version, env, baseline, target, outcome, summary,
    findings."""
    data = _fields(report)
    findings = data.pop("findings")
    out: dict[str, Any] = {"schema": REPORT_SCHEMA, "schema_version": REPORT_SCHEMA_VERSION}
    for name, value in data.items():
        out[name] = run_info_to_dict(value) if name in ("baseline", "target") else jsonable(value)
    out["summary"] = report.summary
    out["findings"] = [finding_to_dict(f) for f in findings]
    return out


class JsonRenderer:
    name = "json"

    def __call__(self, report: Report, _options: Any, /) -> str:
        return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False) + "\n"
