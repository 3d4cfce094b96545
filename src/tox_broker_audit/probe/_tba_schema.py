"""The name and version of the snapshot format the probe writes.

Pure and stdlib only (Python 3.9+), no side effect at import: executed inside the audited
interpreter as the top-level module ``_tba_schema`` (by ``_tba_main``) and importable on the
host side as ``tox_broker_audit.probe._tba_schema``. Raise ``SCHEMA_VERSION`` with any change
a reader of the previous version would misread (see ``docs/snapshot.md``).
"""

from __future__ import annotations

__all__ = ["SCHEMA", "SCHEMA_VERSION"]

#: The snapshot's ``schema`` field.
SCHEMA = "tox-broker-audit/snapshot"
#: The snapshot's ``schema_version`` field.
SCHEMA_VERSION = 1
