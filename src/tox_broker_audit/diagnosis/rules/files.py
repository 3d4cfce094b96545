"""BA407: a file the project opens relative to the working directory resolves elsewhere under tox.

``open("config/broker.toml")`` finds the file only when the run starts in the right
directory. tox runs commands in ``change_dir`` (default ``{toxinidir}``, often set to
``tests``), so the same relative path points at another file, or at none, and a fallback
branch quietly builds a real broker. The probe records relative opens by project code
(``probe/_tba_files.py``); this rule compares where each resolved on the two sides.

An *import* relative to the working directory is the same mistake: Celery's
``config_from_object("celeryconfig")`` and its default loader import the module with the cwd
put on ``sys.path`` for the import, Django's fixup does ``sys.path.insert(0, os.getcwd())``. A
module the baseline imported from a file directly in its cwd, which the target, run from
another directory, could not import at all, is a BA407 about that file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from tox_broker_audit.diagnosis.hooks import hookimpl, rule
from tox_broker_audit.diagnosis.model import DiagnosisContext, Finding, Location
from tox_broker_audit.snapshot.model import FileOpen, Snapshot

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


def _cwd_modules(snapshot: Snapshot) -> dict[str, str]:
    """``{module: file}`` of the modules imported from a file directly in the run's cwd."""
    cwd = os.path.normpath(snapshot.meta.cwd)
    out = {}
    for origin in snapshot.imports.origins:
        file = os.path.normpath(origin.file) if origin.file else ""
        if not file or "." in origin.module:
            continue
        inside = os.path.dirname(file)
        if os.path.basename(file) == "__init__.py":
            inside = os.path.dirname(inside)
        if inside == cwd:
            out[origin.module] = file
    return out


@rule()
def relative_import_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA407: a module imported from the baseline's cwd that the target, elsewhere, cannot import."""
    if ctx.baseline is None or os.path.normpath(ctx.baseline.meta.cwd) == os.path.normpath(
        ctx.target.meta.cwd
    ):
        return
    failed = {f.module: f for f in ctx.target.imports.failed}
    tox_side = side_label(ctx, "target")
    for module, file in sorted(_cwd_modules(ctx.baseline).items()):
        miss = failed.get(module)
        if miss is None:
            continue
        path = os.path.relpath(file, ctx.baseline.meta.cwd)
        importer = miss.importer or "the code"
        yield finding(
            "BA407",
            "error",
            f"{module} is imported from the working directory ({path}): found locally, but {tox_side} "
            f"the cwd is {ctx.target.meta.cwd} and no {module} is importable there",
            path,
            f"{importer} imports {module!r} with the working directory on sys.path (Celery's "
            f"config_from_object and default loader, Django's fixup do this). Locally the run starts in "
            f"{ctx.baseline.meta.cwd}, which holds {path}; {tox_side} it starts in {ctx.target.meta.cwd} "
            f"(tox's change_dir), and the import fails: No module named {module!r}.",
            f"run the env's commands from the project root (remove change_dir), or make {module} a module "
            "of your package and name it with its package (config_from_object('yourpkg.celeryconfig'))",
            location=None,
            about=[f"file:{file}", "pytest:cwd"],
            effects_on=[f"module:{module}", *([f"module:{miss.importer}"] if miss.importer else [])],
            group="cause",
            score=100.0,
            resolved_locally=file,
            resolved_under_tox=os.path.normpath(os.path.join(ctx.target.meta.cwd, path)),
        )


@hookimpl
def broker_audit_rules() -> list[Callable[[DiagnosisContext], Iterable[Finding]]]:
    return [relative_file_rule, relative_import_rule]
