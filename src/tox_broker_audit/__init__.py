"""tox-broker-audit: why do my tests pass with plain pytest locally but fail under tox?

The public API, for tools that read snapshots and reports and for extensions that add
rules and output formats (``docs/extending.md``); every other module is private. tox
imports this package on every run (audited or not) to load the plugin, so the public names
are resolved lazily (PEP 562): importing the package costs next to nothing until one is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tox_broker_audit._version import __version__

if TYPE_CHECKING:
    from tox_broker_audit._errors import AuditError, ProbeError, SnapshotError
    from tox_broker_audit.diagnosis.codes import CODES, Code
    from tox_broker_audit.diagnosis.engine import diagnose
    from tox_broker_audit.diagnosis.hooks import Renderer, RenderOptions, Rule, hookimpl, hookspec, rule
    from tox_broker_audit.diagnosis.model import (
        DiagnosisContext,
        Edit,
        Finding,
        Fix,
        Location,
        Report,
        RunInfo,
        ToxFacts,
    )
    from tox_broker_audit.diagnosis.registry import make_plugin_manager
    from tox_broker_audit.renderers import available_formats, render, report_to_dict
    from tox_broker_audit.snapshot.io import dump_snapshot, load_snapshot
    from tox_broker_audit.snapshot.model import Snapshot

_LAZY = {
    "AuditError": "._errors",
    "CODES": ".diagnosis.codes",
    "Code": ".diagnosis.codes",
    "DiagnosisContext": ".diagnosis.model",
    "Edit": ".diagnosis.model",
    "Finding": ".diagnosis.model",
    "Fix": ".diagnosis.model",
    "Location": ".diagnosis.model",
    "ProbeError": "._errors",
    "RenderOptions": ".diagnosis.hooks",
    "Renderer": ".diagnosis.hooks",
    "Report": ".diagnosis.model",
    "Rule": ".diagnosis.hooks",
    "RunInfo": ".diagnosis.model",
    "Snapshot": ".snapshot.model",
    "SnapshotError": "._errors",
    "ToxFacts": ".diagnosis.model",
    "available_formats": ".renderers",
    "diagnose": ".diagnosis.engine",
    "dump_snapshot": ".snapshot.io",
    "hookimpl": ".diagnosis.hooks",
    "hookspec": ".diagnosis.hooks",
    "load_snapshot": ".snapshot.io",
    "make_plugin_manager": ".diagnosis.registry",
    "render": ".renderers",
    "report_to_dict": ".renderers",
    "rule": ".diagnosis.hooks",
}

__all__ = [
    "CODES",
    "AuditError",
    "Code",
    "DiagnosisContext",
    "Edit",
    "Finding",
    "Fix",
    "Location",
    "ProbeError",
    "RenderOptions",
    "Renderer",
    "Report",
    "Rule",
    "RunInfo",
    "Snapshot",
    "SnapshotError",
    "ToxFacts",
    "__version__",
    "available_formats",
    "diagnose",
    "dump_snapshot",
    "hookimpl",
    "hookspec",
    "load_snapshot",
    "make_plugin_manager",
    "render",
    "report_to_dict",
    "rule",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
