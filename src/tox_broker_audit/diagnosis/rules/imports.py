"""BA501–BA502: modules imported under two names, or resolving to different files."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping

from tox_broker_audit.diagnosis.hooks import hookimpl
from tox_broker_audit.diagnosis.model import DiagnosisContext, Finding, Group, Location, Severity
from tox_broker_audit.diff import OriginChange, normalize_path
from tox_broker_audit.snapshot.model import ModuleOrigin

from ._common import Facts, facts, finding, rel, side_label

__all__ = ["broker_audit_rules", "double_import_rule", "missing_module_names", "module_origin_rule"]

_NO_MODULE = re.compile(r"No module named '([\w.]+)'")


def missing_module_names(messages: Iterable[str]) -> set[str]:
    """Module names from ``ModuleNotFoundError`` messages (and their parents)."""
    out: set[str] = set()
    for message in messages:
        for name in _NO_MODULE.findall(message):
            parts = name.split(".")
            out.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return out


def double_import_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA501: one file imported under two module names on one side only."""
    assert ctx.diff is not None
    f = facts(ctx)
    for side, doubles in (
        ("target", ctx.diff.double_imports_extra),
        ("baseline", ctx.diff.double_imports_missing),
    ):
        for double in doubles:
            app = any(f.is_app_module(n) for n in double.names) or f.in_project(double.file)
            severity: Severity = ("error" if side == "target" else "warning") if app else "info"
            names = " and ".join(double.names)
            yield finding(
                "BA501",
                severity,
                f"{rel(ctx, double.file)} is imported twice, as {names}, {side_label(ctx, side)}",
                double.names[-1],
                f"{double.file} was executed once per name ({names}) {side_label(ctx, side)}: two "
                f"copies of every "
                "module-level object exist, so each actor is declared twice and a patch or "
                "set_broker() applied "
                "through one name does not affect the other copy.",
                "import the module through one name only: drop `src.` prefixes / sys.path hacks, "
                "use a src layout "
                "installed into the env, or `--import-mode=importlib`",
                location=Location(double.file),
                about=[f"module:{n}" for n in double.names] + [f"file:{double.file}"],
                effects_on=[f"module:{n}" for n in double.names],
                group="cause" if app else "other",
                score=75.0 if app else 2.0,
                side=side,
                names=list(double.names),
            )


def _file_words(origin: ModuleOrigin | None) -> str:
    if origin is None or not origin.file:
        return "not imported"
    return origin.file


@dataclasses.dataclass(frozen=True)
class _Verdict:
    """What BA502 says about one origin change, and how much it matters."""

    severity: Severity
    group: Group
    score: float
    title: str
    detail: str
    fix: str


def module_origin_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA502: an application module resolves to different files, or is importable on one side only."""
    assert ctx.diff is not None
    assert ctx.baseline is not None
    f = facts(ctx)
    errors = {
        "target": missing_module_names(e.message for e in ctx.target.pytest.collection_errors),
        "baseline": missing_module_names(e.message for e in ctx.baseline.pytest.collection_errors),
    }
    relevant = [
        c
        for c in ctx.diff.origins
        if f.is_app_module(c.module)
        or any(o is not None and (o.in_project or f.in_project(o.file)) for o in (c.baseline, c.target))
    ]
    names = {c.module for c in relevant}
    for change in relevant:
        parent = change.module.rpartition(".")[0]
        if parent in names and change.kind != "changed":
            continue  # reported with its package
        verdict = _other_file(ctx, f, change) if change.kind == "changed" else _one_side(ctx, change, errors)
        yield _origin_finding(ctx, change, verdict)


def _other_file(ctx: DiagnosisContext, f: Facts, change: OriginChange) -> _Verdict:
    """The module resolves to a different file on each side."""
    b, t = change.baseline, change.target
    assert b is not None
    assert t is not None
    base, tgt = side_label(ctx, "baseline"), side_label(ctx, "target")
    both_project = f.in_project(b.file) and f.in_project(t.file)
    return _Verdict(
        severity="warning" if both_project else "info",
        group="cause" if both_project else "other",
        score=50.0 if both_project else 8.0,
        title=f"{change.module} comes from {rel(ctx, b.file)} {base} but {rel(ctx, t.file)} {tgt}",
        detail=f"{change.module} resolves to {b.file} {base} and {t.file} {tgt}."
        + (
            " Both are project files: another copy of the code shadows the one you edit."
            if both_project
            else " One is an installed copy (e.g. a wheel under tox vs editable locally): edits to the "
            "source are not what runs there."
        ),
        fix=(
            "install the project the same way on both sides (tox: package = editable), "
            "or remove the stale copy"
        ),
    )


def _one_side(ctx: DiagnosisContext, change: OriginChange, errors: Mapping[str, set[str]]) -> _Verdict:
    """The module was imported on one side only (``errors``: the modules each side failed to find)."""
    side = "baseline" if change.kind == "missing" else "target"
    other = "target" if side == "baseline" else "baseline"
    origin = change.baseline if side == "baseline" else change.target
    broken = change.module in errors[other]
    where, not_where = side_label(ctx, side), side_label(ctx, other)
    return _Verdict(
        severity="warning" if broken else "info",
        group="cause" if broken else "other",
        score=70.0 if broken else 1.0,
        title=(
            f"{change.module} is importable {where} but not {not_where}"
            if broken
            else (f"{change.module} is imported only {where}")
        ),
        detail=f"{change.module} was imported {where} from {_file_words(origin)}"
        + (f"; {not_where} collection failed with `No module named '{change.module}'`." if broken else "."),
        fix=(
            "make it importable in both runs: package it with the project, or set `pythonpath` "
            "in the pytest "
            "config, instead of relying on the current directory / PYTHONPATH"
            if broken
            else "nothing to do unless the tests depend on it"
        ),
    )


def _origin_finding(ctx: DiagnosisContext, change: OriginChange, verdict: _Verdict) -> Finding:
    assert ctx.baseline is not None
    b, t = change.baseline, change.target
    about = [f"module:{change.module}"]
    for o in (b, t):
        if o is not None and o.distribution:
            about.append(f"dist:{o.distribution}")
    return finding(
        "BA502",
        verdict.severity,
        verdict.title,
        change.module,
        verdict.detail,
        verdict.fix,
        location=Location(t.file) if t is not None and t.file and os.path.isabs(t.file) else None,
        about=about,
        effects_on=[f"module:{change.module}"],
        group=verdict.group,
        score=verdict.score,
        kind=change.kind,
        baseline=normalize_path(b.file, ctx.baseline) if b else None,
        target=t.file if t else None,
    )


@hookimpl
def broker_audit_rules() -> list[Callable[[DiagnosisContext], Iterable[Finding]]]:
    return [double_import_rule, module_origin_rule]
