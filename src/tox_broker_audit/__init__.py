"""tox-broker-audit: why do my tests pass with plain pytest locally but fail under tox?

The small public API; everything else lives in private modules.
"""

from __future__ import annotations

from ._diagnose import DiagnosisContext, ToxFacts, diagnose
from ._errors import AuditError, ProbeError, SnapshotError
from ._findings import Finding, Report
from ._hooks import hookimpl
from ._render import available_formats, render
from ._rules import rule
from ._snapshot import Snapshot, dump_snapshot, load_snapshot
from ._version import __version__

__all__ = [
    "AuditError",
    "DiagnosisContext",
    "Finding",
    "ProbeError",
    "Report",
    "Snapshot",
    "SnapshotError",
    "ToxFacts",
    "__version__",
    "available_formats",
    "diagnose",
    "dump_snapshot",
    "hookimpl",
    "load_snapshot",
    "render",
    "rule",
]
