"""The option vocabulary every front door, the engine and the docs share (a leaf: stdlib only).

One owner for each value: the ``fail-on`` levels, the verify modes, the default verify budget
and its parser. tox loads this on every run (``_tox/options.py`` builds its options from it),
so it imports nothing but the standard library and the error type.
"""

from __future__ import annotations

import dataclasses
import re

from tox_broker_audit._errors import AuditError

__all__ = [
    "DEFAULT_BUDGET",
    "FAIL_ON",
    "FIX_MODES",
    "ORACLES",
    "VERIFY_MODES",
    "Budget",
    "check_choice",
    "parse_budget",
]

#: ``--broker-audit-fail-on`` / ``fail_on`` / ``--fail-on``: ``never`` leaves the result alone.
FAIL_ON = ("never", "error", "warning")
#: ``--broker-audit-verify`` / ``verify`` / ``--verify``: when the verify stage runs.
VERIFY_MODES = ("auto", "off", "always")
#: ``--broker-audit-oracle`` / ``oracle`` / ``--oracle``: what decides a cause — the failing
#: tests (``tests``; ``auto``: when they can run) or the collection symptom (``collection``).
ORACLES = ("auto", "tests", "collection")
#: ``--broker-audit-fix`` / ``fix``: show (``diff``) or write and re-check (``apply``) the
#: confirmed causes' change of the tox config (``fix/``); ``off`` leaves the file alone.
FIX_MODES = ("off", "diff", "apply")
#: ``--broker-audit-oracle-tests``: how many of the failing tests the oracle re-runs at most.
DEFAULT_ORACLE_TESTS = 3
#: ``--broker-audit-verify-budget`` / ``verify_budget`` / ``--verify-budget``: RUNS/SECONDS.
DEFAULT_BUDGET = "12/60"
_BUDGET_SHAPE = "expected RUNS or RUNS/SECONDS, e.g. " + DEFAULT_BUDGET


@dataclasses.dataclass(frozen=True)
class Budget:
    """At most ``runs`` re-probes and about ``seconds`` of wall time; ``candidates`` findings
    tried first; ``ddmin``: search over all differences when no candidate explains."""

    runs: int = 12
    seconds: float = 60.0
    candidates: int = 3
    ddmin: bool = True


def parse_budget(text: str) -> Budget:
    """``RUNS`` or ``RUNS/SECONDS`` (``12/60``); :class:`AuditError` for anything else."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:/\s*(\d+(?:\.\d+)?)\s*s?)?\s*", text or "")
    if match is None:
        message = f"bad verify budget {text!r} ({_BUDGET_SHAPE})"
        raise AuditError(message)
    runs = int(match.group(1))
    seconds = float(match.group(2)) if match.group(2) else 60.0
    return Budget(runs=runs, seconds=seconds, ddmin=runs > 0)


def check_choice(value: str, choices: tuple[str, ...], option: str, where: str = "") -> str:
    """``value`` when it is one of ``choices``, else :class:`AuditError` naming ``option``
    (and ``where`` else it may come from)."""
    if value not in choices:
        message = f"{option}={value!r} is not one of {', '.join(choices)}{where}"
        raise AuditError(message)
    return value
