"""``broker-audit fix REPORT.json [--apply]``: the confirmed causes' change to the tox config.

Prints a unified diff of every configuration file the report's confirmed causes change
(``fix/``); with ``--apply`` writes it — except into a file with uncommitted changes in git
(the diff is printed and one line says why). A cause whose fix is not a config change is one
line of suggestion. Exit codes: 0 (printed or applied, or nothing to change), 1 (a file was
not written), 2 (the report cannot be read).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from tox_broker_audit._files import printable

__all__ = ["register", "run_fix"]


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "fix",
        help="print (or --apply) the tox config change of a report's confirmed causes",
        description=(
            "Read a finished report.json and print, as a unified diff, the change its confirmed "
            "causes make to the tox configuration (pass_env, deps), keeping the rest of the file "
            "byte for byte; --apply writes it (never into a file with uncommitted git changes)."
        ),
    )
    parser.add_argument("report", type=Path, help="a report.json (.tox/<env>/broker-audit/report.json)")
    parser.add_argument("--apply", action="store_true", help="write the change into the file")
    parser.set_defaults(run=lambda args: run_fix(args.report, apply=args.apply))


def run_fix(report_file: Path, *, apply: bool = False) -> int:
    from tox_broker_audit.fix import dirty, plan, shown_path

    try:
        report = json.loads(report_file.read_text(encoding="utf-8"))
        fixes = plan(report)
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        print(printable(f"broker-audit fix: cannot read {report_file}: {exc}"), file=sys.stderr)
        return 2
    for line in fixes.suggestions:
        print(printable(f"not a config change, not applied: {line}"))
    if not fixes.edits:
        print("broker-audit fix: no confirmed cause changes the tox configuration")
        return 0
    code, root = 0, os.getcwd()
    for edit in fixes.edits:
        shown = shown_path(edit.path, root)
        sys.stdout.write(printable(edit.diff(shown)))
        if not apply:
            continue
        if dirty(edit.path):
            print(
                printable(
                    f"broker-audit fix: {shown} has uncommitted changes: not written (the diff is above)"
                )
            )
            code = 1
            continue
        with open(edit.path, "w", encoding="utf-8", newline="") as fh:
            fh.write(edit.after)
        print(printable(f"broker-audit fix: wrote {shown}: {'; '.join(edit.changes)}"))
    return code
