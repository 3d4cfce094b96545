"""``broker-audit compare --verify``: the verify stage for two real interpreters.

Both sides of ``compare`` can be re-run when they are interpreters (or venvs), so the target's
probe request is re-run with each top cause undone, as under tox (docs/findings.md,
"Verification"). There is no test outcome here: ``auto`` runs whenever the two symptoms
differ (as ``always`` does); a snapshot-file target cannot be re-run, so nothing is verified.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tox_broker_audit._errors import AuditError
from tox_broker_audit._sanitize import clean
from tox_broker_audit.diagnosis.model import Report
from tox_broker_audit.snapshot.capture import ProbeRequest
from tox_broker_audit.snapshot.model import Snapshot

__all__ = ["add_options", "budget", "verified"]

_MODES = ("auto", "off", "always")  # verify.stage.MODES (not imported: keeps --help cheap)
_DEFAULT_BUDGET = "12/60"  # verify.stage.DEFAULT_BUDGET


def budget(text: str) -> str:
    """``RUNS`` or ``RUNS/SECONDS``: a bad value is argparse's one-line usage error (exit 2)."""
    from tox_broker_audit.verify.stage import parse_budget

    try:
        parse_budget(text)
    except AuditError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--verify",
        choices=_MODES,
        default="auto",
        help="re-run the target's collection with each top cause undone to confirm it (auto: "
        "when the two runs differ in broker bindings, reachability, collection errors or a crash)",
    )
    parser.add_argument(
        "--verify-budget",
        type=budget,
        default=_DEFAULT_BUDGET,
        metavar="RUNS[/SECONDS]",
        help=f"at most RUNS re-probes and about SECONDS ({_DEFAULT_BUDGET}); 0 turns it off",
    )


def verified(  # noqa: PLR0917 - compare's one call site
    report: Report,
    baseline: Snapshot,
    target: Snapshot,
    requests: tuple[ProbeRequest | None, ProbeRequest | None],
    root: Path,
    args: argparse.Namespace,
) -> Report:
    """``report`` with the verify stage's statuses; a failure there is one line on stderr."""
    base_request, target_request = requests
    if args.verify == "off":
        return report
    if target_request is None:
        if args.verify == "always":
            print(
                "broker-audit: --verify: the target is a snapshot file, which cannot be re-run",
                file=sys.stderr,
            )
        return report
    from tox_broker_audit.verify.stage import parse_budget, verify

    # A live baseline ran with this process' environment: a variable can be set from it.
    values = dict(os.environ) if base_request is not None else None
    try:
        return verify(
            report,
            baseline,
            target,
            target_request,
            values,
            str(root),
            mode=args.verify,
            budget=parse_budget(args.verify_budget),
        )
    except Exception as exc:  # noqa: BLE001 - the unverified report is still the answer
        print(clean(f"broker-audit: the verification failed: {type(exc).__name__}: {exc}"), file=sys.stderr)
        return report
