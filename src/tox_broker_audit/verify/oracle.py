"""What the test oracle hands the verify stage (built by the pipeline's ``_oracle.py``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from tox_broker_audit.snapshot.model import Snapshot

__all__ = ["OracleRun"]


@dataclasses.dataclass(frozen=True)
class OracleRun:
    """The tests that fail in the target and pass in the baseline, and both sides' runs of them."""

    #: ``/abs/file.py::name`` of the tests the verify stage re-runs (they fail in the target).
    ids: tuple[str, ...]
    target: Snapshot
    baseline: Snapshot
    #: The probe's ``run_tests`` of every re-run: ``{"nodeids": [...]}``, or ``{"first": N}``
    #: when the target stops before any test runs (then ``ids`` is empty).
    spec: Mapping[str, object] = dataclasses.field(default_factory=dict)
    #: The baseline ran the same tests (they pass there): both runs are the compared sides;
    #: False: a reference or snapshot file cannot run them, the target's failure alone decides.
    compared: bool = False
