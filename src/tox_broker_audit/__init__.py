"""tox-broker-audit: why do my tests pass with plain pytest locally but fail under tox?

The small public API; everything else lives in private modules.
"""

from __future__ import annotations

from ._errors import AuditError, ProbeError, SnapshotError
from ._findings import Finding, Report
from ._hooks import hookimpl
from ._snapshot import Snapshot, dump_snapshot, load_snapshot
from ._version import __version__

__all__ = [
    "AuditError",
    "Finding",
    "ProbeError",
    "Report",
    "Snapshot",
    "SnapshotError",
    "__version__",
    "dump_snapshot",
    "hookimpl",
    "load_snapshot",
]
