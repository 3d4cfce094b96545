"""The ``gitlab`` format: a GitLab Code Quality report (``gl-code-quality-report.json``).

A file artefact, declared in ``.gitlab-ci.yml`` under ``artifacts:reports:codequality``; GitLab
shows its issues in the merge request widget and the diff.
https://docs.gitlab.com/ci/testing/code_quality/#code-quality-report-format
"""

from __future__ import annotations

import json
from typing import Any

from tox_broker_audit.diagnosis.model import Finding, Report
from tox_broker_audit.renderers import ci as _ci

__all__ = ["GitlabRenderer", "issues", "severity"]


def severity(finding: Finding) -> str:
    """GitLab's scale is info|minor|major|critical|blocker; an error that is a root cause blocks."""
    if finding.severity == "error":
        return "blocker" if finding.root_cause else "critical"
    return "major" if finding.severity == "warning" else "info"


def _issue(finding: Finding, report: Report, options: Any, fingerprint: str) -> dict[str, Any]:
    at = _ci.anchor(finding, report, options)
    issue: dict[str, Any] = {
        # JSON strings need no escaping of ours beyond json.dumps: GitLab renders them as text.
        "description": _ci.message(
            finding, report, with_location=_ci.place(finding, options) is None, sep=" — "
        ),
        "check_name": _ci.clean(f"{finding.code} {finding.slug}"),
        "fingerprint": fingerprint,
        "severity": severity(finding),
    }
    if at is not None:
        # ``location.path`` is relative to the repository root; ``lines.begin`` is required.
        issue["location"] = {"path": at.path, "lines": {"begin": at.line or 1}}
    return issue


def issues(report: Report, options: Any) -> list[dict[str, Any]]:
    """One Code Quality issue per annotated finding; GitLab keeps one issue per fingerprint."""
    findings = _ci.annotated(report)
    return [
        _issue(finding, report, options, fingerprint)
        for finding, fingerprint in zip(findings, _ci.fingerprints(findings, report.env))
    ]


class GitlabRenderer:
    name = "gitlab"

    def __call__(self, report: Report, options: Any, /) -> str:
        return json.dumps(issues(report, options), indent=2, ensure_ascii=False) + "\n"
