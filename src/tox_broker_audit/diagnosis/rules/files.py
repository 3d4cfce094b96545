"""BA407: a file the project opens relative to the working directory resolves elsewhere under tox.

``open("config/broker.toml")`` finds the file only when the run starts in the right
directory. tox runs commands in ``change_dir`` (default ``{toxinidir}``, often set to
``tests``), so the same relative path points at another file, or at none, and a fallback
branch quietly builds a real broker. The probe records relative opens by project code
(``probe/_tba_files.py``); this rule compares where each resolved on the two sides.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from tox_broker_audit.diagnosis.hooks import hookimpl, rule
from tox_broker_audit.diagnosis.model import DiagnosisContext, Finding, Location
from tox_broker_audit.snapshot.model import FileOpen

from ._common import finding, side_label

__all__ = ["broker_audit_rules", "relative_file_rule"]


def _first(opens: Iterable[FileOpen]) -> dict[str, FileOpen]:
    out: dict[str, FileOpen] = {}
    for record in opens:
        out.setdefault(os.path.normpath(record.path), record)
    return out


@rule()
def relative_file_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA407: a relative path the baseline opened that the target resolves to another, missing file."""
    if ctx.baseline is None:
        return
    mine, theirs = _first(ctx.baseline.opens), _first(ctx.target.opens)
    target_cwd = ctx.target.meta.cwd
    tox_side = side_label(ctx, "target")
    for path, local in sorted(mine.items()):
        if not local.exists:
            continue
        there = theirs.get(path)
        resolved = there.resolved if there is not None else os.path.normpath(os.path.join(target_cwd, path))
        if resolved == local.resolved or (there is not None and there.exists):
            continue
        opener = f"{local.file}:{local.line}" if local.file else "the project"
        status = "is missing" if there is not None else "would resolve"
        yield finding(
            "BA407",
            "error",
            f"{path} is opened relative to the working directory: found locally, but {tox_side} "
            f"the cwd is {target_cwd} and it {status} there",
            path,
            f"{opener} opens {path!r} relative to the cwd. Locally the run starts in "
            f"{ctx.baseline.meta.cwd} and reads {local.resolved}; {tox_side} it starts in "
            f"{target_cwd} (tox's change_dir), where the path means {resolved}, which "
            f"{'does not exist' if there is not None else 'the run never opened'}.",
            "open it relative to the module (Path(__file__).parent / ...) or the project root, or run "
            "the env's commands from the project root (remove change_dir)",
            location=Location(local.file, local.line) if local.file else None,
            about=[f"file:{local.resolved}", "pytest:cwd"],
            effects_on=[f"module:{local.module}" if local.module else "", f"file:{local.file or ''}"],
            group="cause",
            score=100.0,
            resolved_locally=local.resolved,
            resolved_under_tox=resolved,
        )


@hookimpl
def broker_audit_rules() -> list[Callable[[DiagnosisContext], Iterable[Finding]]]:
    return [relative_file_rule]
