"""``broker-audit compare --verify``/``--verify-budget``: the options of the verify stage.

Both sides of ``compare`` can be re-run when they are interpreters (or venvs), so the target's
probe request is re-run with each top cause undone, as under tox (docs/findings.md,
"Verification"); the stage itself is the audit pipeline's (``_audit.run_audit``). There is no
test outcome here: ``auto`` runs whenever the two symptoms differ (as ``always`` does); a
snapshot-file target cannot be re-run, so nothing is verified.
"""

from __future__ import annotations

import argparse

from tox_broker_audit._errors import AuditError
from tox_broker_audit._options import DEFAULT_BUDGET, ORACLES, VERIFY_MODES, parse_budget

__all__ = ["add_options", "budget"]


def budget(text: str) -> str:
    """``RUNS`` or ``RUNS/SECONDS``: a bad value is argparse's one-line usage error (exit 2)."""
    try:
        parse_budget(text)
    except AuditError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--verify",
        choices=VERIFY_MODES,
        default="auto",
        help="re-run the target's collection with each top cause undone to confirm it (auto: "
        "when the two runs differ in broker bindings, reachability, collection errors or a crash)",
    )
    parser.add_argument(
        "--verify-budget",
        type=budget,
        default=DEFAULT_BUDGET,
        metavar="RUNS[/SECONDS]",
        help=f"at most RUNS re-probes and about SECONDS ({DEFAULT_BUDGET}); 0 turns it off",
    )
    parser.add_argument(
        "--oracle",
        choices=ORACLES,
        default="auto",
        help="tests: re-run the tests that failed in the target's last pytest run (its lastfailed, "
        "else its first failures) with each difference undone, confirmed when they pass; "
        "auto, collection: the collection decides (compare has no test outcome)",
    )
