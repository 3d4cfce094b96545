"""The ``azure`` format: Azure Pipelines logging commands (``##vso[task.logissue …]…``).

Printed to stdout, where the agent turns each line into an error or warning of the step.
https://learn.microsoft.com/azure/devops/pipelines/scripts/logging-commands#logissue-log-an-error-or-warning
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tox_broker_audit.diagnosis.model import Finding, Report
from tox_broker_audit.renderers import ci as _ci

__all__ = ["AzureRenderer", "escape_data", "escape_property"]

#: ``task.logissue`` knows only these two types: an info finding is never logged as an issue.
_TYPE = {"error": "error", "warning": "warning"}


def escape_data(text: str) -> str:
    """Escape a command's message as the Node task library does (``escapedata``).

    ``%`` becomes ``%AZP25``, which the agent decodes back to ``%`` (``CommandStringConvertor``);
    CR/LF keep the command on one line, so nothing in the data can start another command.
    https://github.com/microsoft/azure-pipelines-task-lib/blob/master/node/taskcommand.ts
    https://github.com/microsoft/azure-pipelines-agent/blob/master/src/Agent.Sdk/CommandStringConvertor.cs
    """
    return text.replace("%", "%AZP25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value as the Node task library does (``escape``).

    ``;`` ends a property and ``]`` ends the property list, so both are escaped as well.
    https://github.com/microsoft/azure-pipelines-task-lib/blob/master/node/taskcommand.ts
    """
    return escape_data(text).replace("]", "%5D").replace(";", "%3B")


def command(name: str, properties: Mapping[str, str], message: str) -> str:
    """``##vso[area.action key=value;…]message``; empty properties are left out."""
    props = "".join(f"{key}={escape_property(value)};" for key, value in properties.items() if value)
    return f"##vso[{name}{' ' + props if props else ''}]{escape_data(message)}"


def _issue(finding: Finding, report: Report, options: Any) -> str:
    root = getattr(options, "root", None)
    location = finding.location
    # "File paths should be given as absolute paths" (the logging commands page, above).
    path = _ci.clean(_ci.absolute(_ci.clean(location.path), root)) if location else ""
    properties = {
        "type": _TYPE[finding.severity],
        "sourcepath": path,
        "linenumber": str(location.line) if location and location.line else "",
        "code": _ci.clean(finding.code),
    }
    where = f"[{_ci.clean(report.env)}] " if report.env else ""
    return command("task.logissue", properties, where + _ci.message(finding, report, with_location=False))


class AzureRenderer:
    name = "azure"

    def __call__(self, report: Report, options: Any, /) -> str:
        lines = [_issue(f, report, options) for f in _ci.annotated(report) if f.severity in _TYPE]
        return "\n".join(lines) + ("\n" if lines else "")
