"""The ``markdown`` format: report.md, for humans reading artefacts or a CI summary.

The causes come in the findings' order (:mod:`.layout`), so the first ``###`` block is
report.json's ``findings[0]``; every finding is then listed in that order in a table.
"""

from __future__ import annotations

from typing import Any

from tox_broker_audit.diagnosis.model import Finding, Report, RunInfo
from tox_broker_audit.renderers.layout import layout, verification_line

__all__ = ["MarkdownRenderer", "escape_cell"]

_ICON = {"error": "❌", "warning": "⚠️", "info": "ℹ️"}


def escape_cell(text: str) -> str:
    """Make text safe inside a Markdown table cell (one line, no column breaks, no HTML)."""
    return (
        text.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\r", " ")
        .replace("\n", " ")
    )


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}"


def _block(f: Finding, lines: list[str], heading: str) -> None:
    lines.append(f"{heading} {_ICON[f.severity]} {escape_cell(f.title)} ({f.code} `{f.slug}`)")
    lines.append("")
    lines.append(escape_cell(f.detail))
    lines.append("")
    location = ""
    if f.location is not None:
        location = f" — at {_code(f.location.path + (':' + str(f.location.line) if f.location.line else ''))}"
    lines.append(f"**Fix:** {escape_cell(f.fix)}{location}")
    check = verification_line(f)
    if check is not None:
        lines.append("")
        lines.append(f"**Verification:** {escape_cell(check)}")
    lines.append("")


def _side(info: RunInfo | None) -> str:
    """How the summary line names a side: its description, else its interpreter."""
    return "no snapshot" if info is None else info.description or info.python or "?"


class MarkdownRenderer:
    name = "markdown"

    def __call__(self, report: Report, options: Any, /) -> str:
        lay = layout(report)
        summary = report.summary
        b_desc, t_desc = escape_cell(_side(report.baseline)), escape_cell(_side(report.target))
        lines = [
            f"## Broker audit{': ' + escape_cell(report.env) if report.env else ''}",
            "",
            f"**{summary['error']} error(s), {summary['warning']} warning(s), {summary['info']} info** — "
            f"baseline: {b_desc}; target: {t_desc}",
            "",
        ]
        for cause in lay.causes:  # findings' order: the first block is findings[0]
            _block(cause.finding, lines, "###")
            if cause.effects:
                lines.append("It explains:")
                lines.append("")
                lines.extend(
                    f"- {_ICON[e.severity]} {escape_cell(e.title)} ({e.code})" for e in cause.effects
                )
                lines.append("")
        if report.findings:
            lines += [
                "<details><summary>All findings</summary>",
                "",
                "| # | code | severity | group | subject | finding |",
                "|---|---|---|---|---|---|",
            ]
            for i, f in enumerate(report.findings, 1):
                lines.append(
                    f"| {i} | {f.code} | {f.severity} | {f.group} | {escape_cell(f.subject)} | "
                    f"{escape_cell(f.title)} |"
                )
            lines += ["", "</details>", ""]
        else:
            lines += ["No differences found.", ""]
        artefacts = getattr(options, "artefacts", ())
        if artefacts:
            lines.append("Artefacts: " + ", ".join(_code(a) for a in artefacts))
            lines.append("")
        return "\n".join(lines)
