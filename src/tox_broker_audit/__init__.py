"""tox-broker-audit: why do my tests pass with plain pytest locally but fail under tox?

The small public API; everything else lives in private modules. tox imports this package
on every run (audited or not) to load the plugin, so the public names are resolved lazily
(PEP 562): importing the package costs next to nothing until one is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from ._diagnose import DiagnosisContext, ToxFacts, diagnose
    from ._errors import AuditError, ProbeError, SnapshotError
    from ._findings import Finding, Report
    from ._hooks import hookimpl
    from ._render import available_formats, render
    from ._rules import rule
    from ._snapshot import Snapshot, dump_snapshot, load_snapshot

_LAZY = {
    "AuditError": "._errors",
    "DiagnosisContext": "._diagnose",
    "Finding": "._findings",
    "ProbeError": "._errors",
    "Report": "._findings",
    "Snapshot": "._snapshot",
    "SnapshotError": "._errors",
    "ToxFacts": "._diagnose",
    "available_formats": "._render",
    "diagnose": "._diagnose",
    "dump_snapshot": "._snapshot",
    "hookimpl": "._hooks",
    "load_snapshot": "._snapshot",
    "render": "._render",
    "rule": "._rules",
}

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
