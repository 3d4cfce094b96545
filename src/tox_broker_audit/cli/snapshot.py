"""``broker-audit snapshot``: capture one environment as its test command sees it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tox_broker_audit._files import check_output_path, printable
from tox_broker_audit.cli._types import seconds
from tox_broker_audit.snapshot.capture import ProbeRequest, default_python, take_snapshot
from tox_broker_audit.snapshot.io import dump_snapshot, snapshot_json
from tox_broker_audit.snapshot.model import Source

__all__ = ["register"]


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "snapshot",
        help="capture a snapshot of an interpreter/venv as pytest sees it",
        description="Snapshot PY (or the venv VENV) as `pytest PYTEST_ARGS` run from DIR sees it.",
    )
    parser.add_argument(
        "--python",
        metavar="PY|VENV",
        help="interpreter or venv dir (default: $VIRTUAL_ENV, else this Python)",
    )
    parser.add_argument(
        "--cwd", metavar="DIR", type=Path, default=Path.cwd(), help="directory the tests run from"
    )
    parser.add_argument(
        "--invocation",
        choices=("pytest", "python-m"),
        default="pytest",
        help="emulate the `pytest` console script (default) or `python -m pytest`",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", type=Path, help="write here instead of standard output"
    )
    parser.add_argument(
        "--timeout", type=seconds, default=120.0, metavar="S", help="give up after S seconds (120)"
    )
    parser.add_argument("--name", help="a label stored in the snapshot (e.g. 'local', 'ci')")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:

    cwd: Path = args.cwd.absolute()
    if args.output is not None:
        check_output_path(args.output)  # before the probe runs: a bad -o is a usage error
    request = ProbeRequest(
        python=args.python or default_python(),
        cwd=cwd,
        invocation=args.invocation,
        pytest_args=tuple(args.pytest_args),
        source=Source(kind="cli", name=args.name, description=f"broker-audit snapshot in {cwd}"),
        timeout=args.timeout,
    )
    snapshot = take_snapshot(request)
    if args.output is None:
        sys.stdout.write(snapshot_json(snapshot))
    else:
        dump_snapshot(snapshot, args.output)
        pytest = snapshot.pytest
        collected = (
            f"pytest {pytest.version}, {pytest.collected} tests collected"
            if pytest.available
            else "no pytest"
        )
        print(
            printable(
                f"broker-audit: snapshot of {snapshot.interpreter.executable} written to {args.output} "
                f"({len(snapshot.distributions)} distributions, {collected}, "
                f"{snapshot.meta.duration_s:.2f} s)"
            ),
            file=sys.stderr,
        )
    return 0
