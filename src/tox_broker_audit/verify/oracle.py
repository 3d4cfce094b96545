"""What the test oracle hands the verify stage (built by the pipeline's ``_oracle.py``)."""

from __future__ import annotations

import dataclasses

from tox_broker_audit.snapshot.capture import ProbeRequest
from tox_broker_audit.snapshot.model import Snapshot

__all__ = ["OracleRun"]


@dataclasses.dataclass(frozen=True)
class OracleRun:
    """The tests that fail in the target and pass in the baseline, and both sides' runs of them."""

    #: ``/abs/file.py::name`` of the tests the verify stage re-runs (they fail in the target).
    ids: tuple[str, ...]
    target: Snapshot
    baseline: Snapshot
    #: The baseline's request (its invocation, selection, environment).
    baseline_request: ProbeRequest
    #: Where the failing tests came from: ``lastfailed``, ``junit`` or ``probe``.
    source: str
