"""The single error root of tox-broker-audit.

Every failure the user can cause or meet (bad snapshot file, missing interpreter, probe
time-out) is an :class:`AuditError` with a one-line message. Front doors turn it into a tox
``Fail``, a ``pytest.UsageError`` or a CLI exit code 2; nothing else should escape them.
"""

from __future__ import annotations

__all__ = ["AuditError", "NothingToCompareError", "ProbeError", "SnapshotError"]


class AuditError(Exception):
    """Base error: ``str(err)`` is a complete one-line message meant for the user."""


class SnapshotError(AuditError):
    """A snapshot file is missing, malformed, truncated, foreign or of an unknown version."""


class ProbeError(AuditError):
    """A snapshot could not be taken (no interpreter, crash, time-out)."""


class NothingToCompareError(AuditError):
    """No baseline, on purpose: a CI job with no developer env, a reference not saved yet.

    Not a failure (no BA901): one line says how to get one, and the single-snapshot checks run.
    """
