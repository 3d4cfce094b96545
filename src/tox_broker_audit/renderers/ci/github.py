"""The ``github`` format: GitHub Actions workflow commands (``::error file=…,line=…,title=…::…``).

Printed to stdout, where the runner turns each line into an annotation on the run and the
pull request. https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tox_broker_audit.diagnosis.model import Finding, Report
from tox_broker_audit.renderers import ci as _ci

__all__ = ["GithubRenderer", "command", "escape_data", "escape_property", "select"]

#: GitHub shows 10 error and 10 warning annotations per step (50 per job); more are dropped,
#: in no order we choose. So we choose: root causes first, then by rank, at most this many.
#: https://github.com/actions/toolkit/pull/734 (docs/problem-matchers.md, "Limitations")
MAX_PER_LEVEL = 10
_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    """Escape a command's message exactly as ``@actions/core`` does (``escapeData``).

    Escaping CR/LF keeps every command on one physical line, so nothing in the data can start
    a line with ``::`` and be read as a command of its own.
    https://github.com/actions/toolkit/blob/a944251692e50709e44d95e64d43c80236b9f6af/packages/core/src/command.ts#L80-L85
    """
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value exactly as ``@actions/core`` does (``escapeProperty``).

    ``:`` and ``,`` also, since they end a property and the property list.
    https://github.com/actions/toolkit/blob/a944251692e50709e44d95e64d43c80236b9f6af/packages/core/src/command.ts#L87-L94
    """
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, properties: Mapping[str, str], message: str) -> str:
    """One workflow command; empty properties are left out, as ``@actions/core`` does."""
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items() if value)
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def _annotation(finding: Finding, report: Report, options: Any) -> str:
    at = _ci.place(finding, options)
    properties = {
        "file": at.path if at else "",
        "line": str(at.line) if at and at.line else "",
        "title": _ci.title(finding, report.env),
    }
    text = _ci.message(finding, report, with_location=at is None)
    return command(_LEVEL[finding.severity], properties, text)


def select(report: Report) -> tuple[tuple[Finding, ...], int]:
    """The findings to annotate (at most :data:`MAX_PER_LEVEL` per level) and how many are left out."""
    counts: dict[str, int] = {}
    chosen: list[Finding] = []
    for finding in _ci.annotated(report):
        level = _LEVEL[finding.severity]
        counts[level] = counts.get(level, 0) + 1
        if counts[level] <= MAX_PER_LEVEL:
            chosen.append(finding)
    return tuple(chosen), len(_ci.annotated(report)) - len(chosen)


class GithubRenderer:
    name = "github"

    def __call__(self, report: Report, options: Any, /) -> str:
        chosen, left_out = select(report)
        lines = [_annotation(finding, report, options) for finding in chosen]
        if left_out:
            # A plain log line (it does not start with "::"): only a count, no data.
            lines.append(
                f"broker-audit: {left_out} more finding(s) not annotated "
                f"(GitHub shows {MAX_PER_LEVEL} per level and step): see the full report"
            )
        return "\n".join(lines) + ("\n" if lines else "")
