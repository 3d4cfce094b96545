"""``broker-audit diff`` and ``broker-audit compare``: findings from two snapshots.

``diff BASELINE TARGET`` reads two snapshot files; ``compare --baseline X --target Y`` accepts
for each side an interpreter, a venv directory or a ``.json`` snapshot file and captures what
is needed, then verifies the top causes by re-running a live target (``cli/_verify.py``).
Exit codes (docs/architecture.md, Contracts): 0 no finding at/above ``--fail-on``, 1 findings,
2 usage or input error (raised as :class:`AuditError`, turned into 2 by ``cli.main``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from tox_broker_audit import _audit
from tox_broker_audit._errors import AuditError
from tox_broker_audit._files import printable, write_text
from tox_broker_audit._options import FAIL_ON, parse_budget
from tox_broker_audit.cli import _verify
from tox_broker_audit.cli._types import seconds
from tox_broker_audit.diagnosis.hooks import RenderOptions
from tox_broker_audit.diagnosis.model import Report
from tox_broker_audit.renderers import available_formats, render, should_color
from tox_broker_audit.snapshot.baseline import BaselinePlan, SnapshotFileBaseline
from tox_broker_audit.snapshot.capture import ProbeRequest, take_snapshot
from tox_broker_audit.snapshot.io import load_snapshot
from tox_broker_audit.snapshot.model import Source

__all__ = ["exit_code", "register"]


def exit_code(report: Report, fail_on: str) -> int:
    """1 when a finding is at or above ``fail_on`` (``never``: always 0)."""
    return int(_audit.count_failing(report, fail_on) > 0)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", default="terminal", metavar="FMT", help="terminal (default), json, markdown, …"
    )
    parser.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="error",
        help="exit 1 on findings at/above this severity (error)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list every finding with its explanation"
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", type=Path, help="write the report here instead of stdout"
    )
    parser.add_argument("--env", metavar="NAME", help="name shown in the report (e.g. the tox env)")
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="CODE[:GLOB]",
        help="silence a code, or CODE:subject-glob",
    )


def register(sub: Any) -> None:
    diff: argparse.ArgumentParser = sub.add_parser(
        "diff",
        help="explain the differences between two snapshot files",
        description="Diagnose TARGET against BASELINE (two snapshot files from `broker-audit snapshot`).",
    )
    diff.add_argument("baseline", metavar="BASELINE", type=Path)
    diff.add_argument("target", metavar="TARGET", type=Path)
    _common(diff)
    diff.set_defaults(run=_run_diff)

    compare: argparse.ArgumentParser = sub.add_parser(
        "compare",
        help="snapshot two environments (or reuse snapshot files) and explain the differences",
        description=(
            "Each side is an interpreter, a venv directory or a snapshot .json file. "
            "Arguments after `--` are passed to the pytest collection run."
        ),
    )
    compare.add_argument("--baseline", required=True, metavar="PY|VENV|FILE")
    compare.add_argument("--target", required=True, metavar="PY|VENV|FILE")
    compare.add_argument(
        "--cwd", type=Path, default=None, metavar="DIR", help="directory the tests run from (.)"
    )
    compare.add_argument(
        "--timeout", type=seconds, default=120.0, metavar="S", help="probe time-out per side (120)"
    )
    _verify.add_options(compare)
    _common(compare)
    compare.set_defaults(run=_run_compare)


def _obtain(spec: str, side: str, args: argparse.Namespace) -> tuple[_audit.Taken, BaselinePlan]:
    """The side as ``compare`` takes it (a bad interpreter or file is a usage error, exit 2):
    its snapshot, the probe request that took it (None: a snapshot file), and, for the
    baseline, the plan it is (live: this process' environment; or a snapshot file)."""
    from tox_broker_audit.snapshot.baseline import LiveBaseline, SnapshotFileBaseline

    if spec.endswith(".json"):
        return _audit.Taken(load_snapshot(spec)), SnapshotFileBaseline(Path(spec), f"snapshot file {spec}")
    cwd = (args.cwd or Path.cwd()).absolute()
    environ = dict(os.environ)
    request = ProbeRequest(
        python=spec,
        cwd=cwd,
        env=environ,
        pytest_args=tuple(args.pytest_args),
        source=Source(kind="cli", name=side, description=f"{side}: {spec} in {cwd}"),
        timeout=args.timeout,
    )
    return _audit.Taken(take_snapshot(request), request), LiveBaseline(spec, f"--baseline {spec}", environ)


def _emit(report: Report, args: argparse.Namespace) -> int:
    if args.format not in available_formats():
        msg = f"unknown --format {args.format!r} (available: {', '.join(available_formats())})"
        raise AuditError(msg)
    to_file = args.output is not None
    text = render(
        report,
        args.format,
        verbose=args.verbose,
        color=False if to_file else should_color(sys.stdout),
        artefacts=[str(args.output)] if to_file and args.format == "terminal" else (),
    )
    if to_file:
        write_text(args.output, text)
        summary = report.summary
        print(
            f"broker-audit: report written to {args.output} "
            f"({summary['error']} errors, {summary['warning']} warnings, {summary['info']} info)",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(printable(text))
    return exit_code(report, args.fail_on)


def _audited(
    baseline: _audit.Taken, target: _audit.Taken, plan: BaselinePlan, args: argparse.Namespace
) -> Report:
    """The one pipeline with both sides taken, no artefacts and no formats (``_emit`` renders);
    its lines (a verification that failed, …) go to stderr."""
    ignore = tuple(p for item in args.ignore for p in item.split(",") if p.strip())
    verify = getattr(args, "verify", "off")
    result = _audit.run_audit(
        _audit.AuditJob(
            name=args.env or "",
            root=(getattr(args, "cwd", None) or Path.cwd()).absolute(),
            plan=plan,
            target=lambda: target,
            baseline=lambda: baseline.snapshot,
            output=RenderOptions(formats=()),
            ignore=ignore,
            verify=verify,
            budget=parse_budget(getattr(args, "verify_budget", "0")),
            oracle=getattr(args, "oracle", "auto"),
        )
    )
    for line in (*result.notices, *result.lines):
        print(printable(line), file=sys.stderr)
    return result.report


def _run_diff(args: argparse.Namespace) -> int:
    if args.pytest_args:
        msg = "diff takes no pytest arguments (they belong to `snapshot` or `compare`)"
        raise AuditError(msg)
    baseline = _audit.Taken(load_snapshot(args.baseline))
    plan = SnapshotFileBaseline(args.baseline, f"snapshot file {args.baseline}")
    return _emit(_audited(baseline, _audit.Taken(load_snapshot(args.target)), plan, args), args)


def _run_compare(args: argparse.Namespace) -> int:
    baseline, plan = _obtain(args.baseline, "baseline", args)
    target, _ = _obtain(args.target, "target", args)
    return _emit(_audited(baseline, target, plan, args), args)
