"""The ``sarif`` format: SARIF 2.1.0 (``report.sarif``), e.g. for GitHub code scanning.

https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html — the standard;
https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning
— the subset GitHub reads. Every string is redacted before it is put in the JSON document;
``json.dumps`` does the only escaping JSON needs.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from tox_broker_audit._findings import Finding, Report
from tox_broker_audit._version import __version__

from . import _ci
from ._json import _clean

__all__ = ["SCHEMA", "SarifRenderer", "sarif_log"]

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/tox-broker-audit/"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
#: The meaning of each built-in code (DESIGN §5): the rule's shortDescription.
MEANING = {
    "BA101": "variable present in baseline, missing under tox (pass_env)",
    "BA102": "variable only under tox (set_env, tox-injected, CI leak)",
    "BA103": "variable value differs (compared through redaction)",
    "BA104": "PYTHONHASHSEED differs or is random",
    "BA201": "distribution only in baseline",
    "BA202": "distribution only under tox",
    "BA203": "package versions differ",
    "BA204": "installed editable vs regular, or in another location",
    "BA301": ".pth file with executable lines differs",
    "BA302": ".pth path entries differ",
    "BA303": "sitecustomize/usercustomize differs",
    "BA305": "sys.path entries or order differ",
    "BA306": "interpreter version, implementation or flags differ",
    "BA401": "pytest plugin set differs",
    "BA402": "pytest plugin load order differs",
    "BA403": "pytest rootdir, inifile, addopts, import mode or testpaths differ",
    "BA404": "conftest files differ",
    "BA405": "an ini option is unknown (its plugin is missing)",
    "BA406": "an app module was imported before the test suite's setup ran",
    "BA501": "same file imported under two module names",
    "BA502": "a module resolves to different files or is importable on one side only",
    "BA601": "an actor is bound to a real broker where tests expect a stub",
    "BA602": "the global broker differs",
    "BA603": "a bound broker or broker URL target cannot be reached",
    "BA604": "the baseline run was bound to a real, reachable broker",
    "BA605": "dramatiq created its implicit default broker",
    "BA901": "a snapshot could not be taken",
    "BA902": "pytest collection errors on one side only",
}


def _uri(path: str) -> str:
    """An RFC 3986 URI reference: relative paths stay relative, ``/``-separated and %-encoded."""
    if path.startswith("/"):
        return "file://" + urllib.parse.quote(path, safe="/")
    if len(path) > 2 and path[1] == ":" and path[2] == "/":  # C:/… on Windows
        return "file:///" + urllib.parse.quote(path, safe="/:")
    return urllib.parse.quote(path, safe="/")


def _location(at: _ci.Place, options: Any) -> dict[str, Any]:
    artifact: dict[str, Any] = {"uri": _uri(at.path)}
    if getattr(options, "root", None) and not artifact["uri"].startswith("file:"):
        artifact["uriBaseId"] = "%SRCROOT%"
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if at.line:
        physical["region"] = {"startLine": at.line}
    return {"physicalLocation": physical}


def _rule(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.code,
        "name": finding.slug,
        "shortDescription": {"text": MEANING.get(finding.code, finding.slug)},
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
    cleaned: dict[str, Any] = _clean(log)
    return cleaned


class SarifRenderer:
    name = "sarif"

    def __call__(self, report: Report, options: Any, /) -> str:
        return json.dumps(sarif_log(report, options), indent=2, ensure_ascii=False) + "\n"
