"""The ``sarif`` format: SARIF 2.1.0 (``report.sarif``), e.g. for GitHub code scanning.

https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html — the standard;
https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning
— the subset GitHub reads. Every string is redacted before it is put in the JSON document;
``json.dumps`` does the only escaping JSON needs.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
from typing import Any

from tox_broker_audit._sanitize import clean_lines
from tox_broker_audit._version import __version__
from tox_broker_audit.diagnosis.codes import meaning_of
from tox_broker_audit.diagnosis.model import Finding, Report
from tox_broker_audit.renderers import ci as _ci
from tox_broker_audit.renderers.json import jsonable

__all__ = ["SCHEMA", "SarifRenderer", "sarif_log"]

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/tox-broker-audit/"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _uri(path: str) -> str:
    """An RFC 3986 URI reference: relative paths stay relative, ``/``-separated and %-encoded."""
    if path.startswith("/"):
        return "file://" + urllib.parse.quote(path, safe="/", errors="surrogateescape")
    if len(path) > 2 and path[1] == ":" and path[2] == "/":  # C:/… on Windows
        return "file:///" + urllib.parse.quote(path, safe="/:", errors="surrogateescape")
    return urllib.parse.quote(path, safe="/", errors="surrogateescape")


def _location(at: _ci.Place, options: Any) -> dict[str, Any]:
    artifact: dict[str, Any] = {"uri": _uri(at.path)}
    if getattr(options, "root", None) and not artifact["uri"].startswith("file:"):
        artifact["uriBaseId"] = "%SRCROOT%"
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if at.line:
        physical["region"] = {"startLine": at.line}
    return {"physicalLocation": physical}


def _artifact(path: str, options: Any) -> dict[str, Any]:
    root = getattr(options, "root", None)
    rel = _ci.relative(_ci.clean(path), root)
    if rel is None:
        return {"uri": _uri(path)}
    artifact: dict[str, Any] = {"uri": _uri(rel)}
    if root and not artifact["uri"].startswith("file:"):
        artifact["uriBaseId"] = "%SRCROOT%"
    return artifact


def _without_last_newline(text: str) -> str:
    for ending in ("\r\n", "\n", "\r"):
        if text.endswith(ending):
            return text[: -len(ending)]
    return text


def _fixes(finding: Finding, options: Any) -> list[dict[str, Any]]:
    """A confirmed cause's config change as a SARIF fix (§3.55), cleaned: one ``artifactChange``
    per file, each hunk a replacement of whole lines (a region without columns ends before the
    last line's newline, §3.30.2, so the inserted text drops its final one)."""
    by_path: dict[str, list[dict[str, Any]]] = {}
    for edit in finding.edits:
        by_path.setdefault(edit.path, []).append(
            {
                "deletedRegion": {"startLine": edit.line, "endLine": edit.end_line},
                "insertedContent": {"text": clean_lines(_without_last_newline(edit.after))},
            }
        )
    if not by_path:
        return []
    changes = [
        {"artifactLocation": jsonable(_artifact(path, options)), "replacements": replacements}
        for path, replacements in by_path.items()
    ]
    return [{"description": {"text": _ci.clean(finding.fix or finding.title)}, "artifactChanges": changes}]


def _rule(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.code,
        "name": finding.slug,
        "shortDescription": {"text": meaning_of(finding.code, finding.slug)},
    }


def _related(finding: Finding, report: Report, options: Any) -> list[dict[str, Any]]:
    """The findings that cause this one, each where it lies (GitHub links them from the result)."""
    related: list[dict[str, Any]] = []
    for cause in _ci.caused_by(finding, report):
        at = _ci.place(cause, options)
        if at is not None:
            location = _location(at, options)
            location["id"] = len(related)
            location["message"] = {"text": f"caused by: {cause.title} [{cause.code}]"}
            related.append(location)
    return related


def _result(
    finding: Finding, report: Report, options: Any, rule_index: int, fingerprint: str
) -> dict[str, Any]:
    at = _ci.anchor(finding, report, options)
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "ruleIndex": rule_index,
        "level": _LEVEL[finding.severity],
        "message": {"text": _ci.message(finding, report, with_location=_ci.place(finding, options) is None)},
        # GitHub rejects a result without a location ("expected at least one location"):
        # https://github.com/github/codeql-action/issues/2459 — hence the anchor.
        "locations": [_location(at, options)] if at is not None else [],
        "partialFingerprints": {"toxBrokerAudit/v1": fingerprint},
        "properties": {
            "id": finding.id,
            "subject": finding.subject,
            "env": report.env,
            "root_cause": finding.root_cause,
            "explains": list(finding.explains),
            "group": finding.group,
            "fix": finding.fix,
            "verification": dataclasses.asdict(finding.verification) if finding.verification else None,
        },
    }
    related = _related(finding, report, options)
    if related:
        result["relatedLocations"] = related
    return result


def sarif_log(report: Report, options: Any) -> dict[str, Any]:
    """The SARIF log as a dict, every string redacted."""
    findings = _ci.annotated(report)
    rules: dict[str, int] = {}
    for finding in findings:
        rules.setdefault(finding.code, len(rules))
    by_code = {f.code: f for f in reversed(findings)}  # the first finding of each code
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "tox-broker-audit",
                "informationUri": INFORMATION_URI,
                "version": __version__,
                "rules": [_rule(by_code[code]) for code in rules],
            }
        },
        # One category per tox env, so that uploads of several envs do not replace each other.
        "automationDetails": {"id": f"tox-broker-audit/{report.env or 'report'}/"},
        "results": [
            _result(f, report, options, rules[f.code], fp)
            for f, fp in zip(findings, _ci.fingerprints(findings, report.env))
        ],
    }
    root = getattr(options, "root", None)
    if root and root.startswith("/"):
        run["originalUriBaseIds"] = {"%SRCROOT%": {"uri": _uri(root.rstrip("/") + "/")}}
    log = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    cleaned: dict[str, Any] = jsonable(log)
    # A fix's inserted text is cleaned line by line: its newlines are the change, not an attack.
    for result, finding in zip(cleaned["runs"][0]["results"], findings):
        fixes = _fixes(finding, options)
        if fixes:
            result["fixes"] = fixes
    return cleaned


class SarifRenderer:
    name = "sarif"

    def __call__(self, report: Report, options: Any, /) -> str:
        return json.dumps(sarif_log(report, options), indent=2, ensure_ascii=False) + "\n"
