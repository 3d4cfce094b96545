"""What an audit leaves behind and shows: the artefact directory, the rendered formats.

Part of the audit layer (``_audit.run_audit`` calls it once per audit): ``baseline.json``,
``target.json``, ``report.json`` and ``report.md`` into the artefact directory, then each
requested format printed (text formats) or written next to them (SARIF, GitLab's code
quality file). A failure here is one line, never an exception: the report is still shown.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tox_broker_audit._ci import ci_formats
from tox_broker_audit._errors import AuditError
from tox_broker_audit._sanitize import clean

if TYPE_CHECKING:
    from tox_broker_audit.diagnosis.hooks import RenderOptions
    from tox_broker_audit.diagnosis.model import Report
    from tox_broker_audit.snapshot.model import Snapshot

__all__ = [
    "ARTEFACT_DIR",
    "FILE_FORMATS",
    "check_formats",
    "choose_formats",
    "display_path",
    "render_outputs",
    "reset_dir",
    "write_artefacts",
]

ARTEFACT_DIR = "broker-audit"
#: Formats written to files in the artefact directory instead of being printed.
FILE_FORMATS = {"sarif": "report.sarif", "gitlab": "gl-code-quality-report.json"}


def choose_formats(requested: Sequence[str], environ: Mapping[str, str]) -> tuple[str, ...]:
    """``requested`` (repeatable, comma separated; default ``terminal``) plus the annotation
    format of the CI that ``environ`` shows."""
    out: list[str] = []
    for option in requested:
        out.extend(part.strip().lower() for part in option.split(",") if part.strip())
    if not out:
        out.append("terminal")
    out.extend(ci_formats(environ))
    return tuple(dict.fromkeys(out))


def check_formats(formats: Sequence[str], option: str) -> None:
    """:class:`AuditError` naming ``option`` when a format is not registered."""
    from tox_broker_audit.renderers import available_formats

    known = tuple(available_formats())
    unknown = [fmt for fmt in formats if fmt not in known]
    if unknown:
        message = f"unknown {option} {', '.join(unknown)} (choose from {', '.join(known)})"
        raise AuditError(message)


def reset_dir(out_dir: Path) -> None:
    """Old artefacts of a previous run must not be mistaken for this run's. A path that is not
    a directory (a file, a symlink) is left alone: writing the artefacts then fails with one
    line, and the report is still shown."""
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        return
    if out_dir.is_dir():
        shutil.rmtree(out_dir, ignore_errors=True)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # said when the artefacts are written


def write_artefacts(
    out_dir: Path, baseline: Snapshot | None, target: Snapshot | None, report: Report
) -> tuple[tuple[str, ...], list[str]]:
    """The snapshots, report.json and report.md into ``out_dir``: what was written (as shown to
    the user) and, when writing failed, the one line saying so."""
    from tox_broker_audit._files import write_text
    from tox_broker_audit.renderers import render
    from tox_broker_audit.renderers.json import report_to_dict
    from tox_broker_audit.snapshot.io import dump_snapshot

    written: list[Path] = []
    lines: list[str] = []
    try:
        for snapshot, file_name in ((baseline, "baseline.json"), (target, "target.json")):
            if snapshot is not None:
                dump_snapshot(snapshot, out_dir / file_name)
                written.append(out_dir / file_name)
        report_file = out_dir / "report.json"
        write_text(report_file, json.dumps(report_to_dict(report), indent=1) + "\n")
        written.append(report_file)
        markdown = out_dir / "report.md"
        write_text(markdown, render(report, "markdown", artefacts=(str(report_file),)))
        written.append(markdown)
    except (OSError, AuditError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        lines.append(clean(f"broker-audit: cannot write artefacts to {out_dir}: {why}"))
    return tuple(display_path(path) for path in written), lines


def display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def render_outputs(
    name: str, report: Report, out_dir: Path | None, artefacts: tuple[str, ...], output: RenderOptions
) -> list[str]:
    """Each of ``output.formats``: a text format as the lines to print, a file format (SARIF,
    GitLab) written into ``out_dir`` with one line saying where. Only the terminal is coloured."""
    from tox_broker_audit._files import printable, write_text
    from tox_broker_audit.renderers import render

    lines: list[str] = []
    for fmt in output.formats:
        options = dataclasses.replace(
            output, artefacts=artefacts, color=output.color if fmt == "terminal" else False
        )
        try:
            if fmt in FILE_FORMATS and out_dir is not None:
                path = out_dir / FILE_FORMATS[fmt]
                write_text(path, render(report, fmt, options=options))
                lines.append(clean(f"broker-audit: {fmt} report written to {display_path(path)}"))
            else:
                lines.append(printable(render(report, fmt, options=options).rstrip("\n")))
        except Exception as exc:  # noqa: BLE001 - never let the audit break the run
            lines.append(clean(f"broker-audit: {name}: the {fmt} output failed: {type(exc).__name__}: {exc}"))
    return lines
