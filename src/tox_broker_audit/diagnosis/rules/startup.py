"""BA301–BA306: interpreter start-up (``.pth``, sitecustomize), ``sys.path`` and the interpreter."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator, Sequence

from tox_broker_audit.diagnosis.hooks import hookimpl
from tox_broker_audit.diagnosis.model import DiagnosisContext, Finding, Group, Location, Severity
from tox_broker_audit.diff import FieldChange, normalize_path
from tox_broker_audit.snapshot.anchors import is_inside
from tox_broker_audit.snapshot.model import PthFile, Snapshot, SysPathEntry

from ._common import TESTISH, Facts, SideFacts, facts, finding, leaves_first, rel, side_label, top
from ._noise import namespace_modules, namespace_only, own_editable, provided_tops

__all__ = ["broker_audit_rules", "customize_rule", "interpreter_rule", "pth_rule", "sys_path_rule"]

_EXPECTED_PTH = frozenset({"virtualenv", "setuptools", "uv"})


def _side(f: Facts, name: str) -> SideFacts:
    side = f.baseline if name == "baseline" else f.target
    assert side is not None
    return side


def _other(name: str) -> str:
    return "target" if name == "baseline" else "baseline"


def runtime_env_tokens(
    f: Facts, side: str, *, files: Iterable[str | None] = (), modules: Iterable[str] = ()
) -> list[str]:
    """``env:`` tokens of variables set at run time on ``side`` only (see environ.py) by this code.

    "This code" is the given files, or modules (and their submodules): the probe records every
    write to ``os.environ`` with its file and module. Snapshots without that trace (older
    probes) fall back to attributing every such variable to the item.
    """
    mine, other = _side(f, side), _side(f, _other(side))
    names = sorted(n for n in mine.runtime_set - other.runtime_set if n not in other.env)
    writes = mine.snapshot.environ.writes
    if writes:
        file_set = {p for p in files if p}
        prefixes = tuple(m + "." for m in modules)
        module_set = set(modules)
        written = {
            w.name
            for w in writes
            if w.how != "delitem"
            and (
                w.file in file_set or (w.module and (w.module in module_set or w.module.startswith(prefixes)))
            )
        }
        names = [n for n in names if n in written]
    return [f"env:{n}" for n in names]


def _app_imports(f: Facts, modules: Sequence[str]) -> list[str]:
    return leaves_first(m for m in modules if f.is_app_module(m))


@dataclasses.dataclass(frozen=True)
class _PthAt:
    """A ``.pth`` file that differs, seen from the side it is reported for (the target's if both)."""

    pth: PthFile
    kind: str  # "missing" | "extra" | "changed"
    side: str
    where: str  # how the report names ``side``
    not_where: str  # ... and the other side
    harmless: str | None = None  # "namespace" | "editable:<dist>": a class of noise (_noise.py)


def pth_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA301 (executable lines) and BA302 (path lines) of ``.pth`` files that differ."""
    assert ctx.diff is not None
    f = facts(ctx)
    for change in ctx.diff.pth_files:
        pth: PthFile | None = change.target if change.kind == "extra" else change.baseline
        if change.kind == "changed":
            pth = change.target
        assert pth is not None
        side = "target" if change.kind in ("extra", "changed") else "baseline"
        at = _PthAt(
            pth,
            change.kind,
            side,
            side_label(ctx, side),
            side_label(ctx, _other(side)),
            _harmless(f, side, pth),
        )
        if change.exec_changed:
            yield _pth_exec(f, at)
        elif change.path_changed:
            yield _pth_path(f, at)


def _harmless(f: Facts, side: str, pth: PthFile) -> str | None:
    """Which class of harmless start-up noise ``pth`` belongs to on ``side``, if any."""
    snap = _side(f, side).snapshot
    if namespace_only(pth, snap, f.app_tops):
        return "namespace"
    dist = own_editable(f, side, pth)
    return f"editable:{dist.name}" if dist is not None else None


def _pth_exec(f: Facts, at: _PthAt) -> Finding:
    pth = at.pth
    spaces = namespace_modules(_side(f, at.side).snapshot)
    app = _app_imports(f, [m for m in pth.imported if m not in spaces])
    effects = [f"module:{m}" for m in app]
    if pth.known is None and at.harmless is None:
        effects += runtime_env_tokens(f, at.side, files=[pth.path], modules=pth.imported)
    severity, group, score = _pth_exec_rank(pth, app, at.harmless)
    title, detail = _pth_exec_words(at, app)
    return finding(
        "BA301",
        severity,
        title,
        pth.name,
        detail,
        _pth_exec_fix(at),
        location=Location(pth.path),
        about=[f"file:{pth.path}"],
        effects_on=effects,
        group=group,
        score=score,
        side=at.side,
        exec_lines=list(pth.exec_lines),
        imported=list(pth.imported),
        known=pth.known,
    )


def _exec_line(pth: PthFile) -> str:
    return pth.exec_lines[0] if pth.exec_lines else ""


def _pth_exec_rank(pth: PthFile, app: Sequence[str], harmless: str | None) -> tuple[Severity, Group, float]:
    """Known writers (virtualenv, setuptools…) are noise; app imports at start-up are the worst.

    A file's name alone never excuses an import of application code: what it imported decides.
    """
    if pth.known in _EXPECTED_PTH and not app:
        return "info", "expected", 0.0
    if app:
        return "error", "cause", 95.0
    if pth.known is not None or harmless is not None:
        return "info", "other", 10.0
    return "warning", "cause", 60.0


def _pth_exec_words(at: _PthAt, app: Sequence[str]) -> tuple[str, str]:
    """(title, detail) of a ``.pth`` file whose executable lines differ."""
    pth, where = at.pth, at.where
    if at.kind == "changed":
        title = f"{pth.name} runs different start-up code {where}"
    elif at.kind == "extra":
        title = f"{pth.name} runs code at interpreter start-up only {where}"
    else:
        title = f"{pth.name} runs code at interpreter start-up only {where} (not {at.not_where})"
    if app:
        title += f" and imports {app[0]}" + (f" (+{len(app) - 1})" if len(app) > 1 else "")
    detail = (
        f"{pth.path} has the executable line `{_exec_line(pth)}`; Python runs it at start-up, before pytest "
        f"or any conftest. It imported: {', '.join(pth.imported) or 'nothing non-stdlib'}."
    )
    if app:
        detail += (
            " An application module imported this early runs its @dramatiq.actor decorators before the "
            "tests set a StubBroker, binding the actors to the default broker for good."
        )
    elif at.harmless is not None:
        detail += " " + _HARMLESS_WORDS[at.harmless.partition(":")[0]].format(
            dist=at.harmless.partition(":")[2], other=at.not_where
        )
    return title, detail


_HARMLESS_WORDS = {
    "namespace": "Its lines only declare namespace packages (no code of any distribution runs): "
    "no cause unless the tests import from that namespace.",
    "editable": "It is the project's own editable install of {dist}, which is installed {other} "
    "too (see BA204): no cause by itself.",
}


def _pth_exec_fix(at: _PthAt) -> str:
    pth = at.pth
    if at.harmless == "namespace":
        return "nothing to do: it only declares namespace packages"
    if at.harmless is not None:
        return "nothing to do: the project's own editable install (tox installs the built package)"
    if at.kind == "missing":
        return (
            f"the local venv runs `{_exec_line(pth)}` at start-up and {at.not_where} does not: do what it "
            "does explicitly (conftest.py / set_env), or install the package that ships it in both "
            "environments"
        )
    if pth.known is not None:
        return "nothing to do: written by " + pth.known
    return (
        f"find the distribution that installs {pth.name} (search the RECORD files in site-packages), "
        "remove it from the env or make its import lazy (no application imports at start-up)"
    )


def _modules_under(snapshot: Snapshot, paths: Iterable[str]) -> list[str]:
    roots = [os.path.normpath(p) for p in paths if p]
    out = []
    for origin in snapshot.imports.origins:
        if origin.file and any(is_inside(origin.file, r) for r in roots):
            out.append(origin.module)
    return out


def _shallowest(modules: Iterable[str]) -> list[str]:
    mods = sorted(set(modules))
    return [m for m in mods if not any(m.startswith(o + ".") for o in mods if o != m)]


def _pth_path(f: Facts, at: _PthAt) -> Finding:
    pth, where = at.pth, at.where
    snap = _side(f, at.side).snapshot
    used = _shallowest(_modules_under(snap, pth.added_paths or pth.path_lines))
    if at.harmless is not None and at.harmless.startswith("editable:"):
        used = _foreign_modules(f, at)
    severity, group, score = _pth_path_rank(at, used)
    paths = ", ".join(pth.path_lines) or "(none)"
    return finding(
        "BA302",
        severity,
        f"{pth.name} adds {paths} to sys.path only {where}"
        if at.kind != "changed"
        else f"{pth.name} adds other paths {where}",
        pth.name,
        f"{pth.path} adds {paths} to sys.path {where}; modules imported from there"
        + (f" that {at.harmless[9:]} does not provide {at.not_where}" if at.harmless and used else "")
        + f": {', '.join(used) or 'none'}."
        + (
            " " + _HARMLESS_WORDS["editable"].format(dist=at.harmless[9:], other=at.not_where)
            if at.harmless and not used
            else ""
        ),
        _pth_path_fix(at, used),
        location=Location(pth.path),
        about=[f"file:{pth.path}"],
        effects_on=[f"module:{m}" for m in used],
        group=group,
        score=score,
        side=at.side,
        path_lines=list(pth.path_lines),
        known=pth.known,
    )


def _pth_path_rank(at: _PthAt, used: Sequence[str]) -> tuple[Severity, Group, float]:
    """A cause when modules were imported through the paths (for the project's own editable
    install: modules its distribution does not provide on the other side)."""
    known = at.pth.known
    noise = known in _EXPECTED_PTH or (known == "editable-install" and at.harmless is None)
    if noise or (at.harmless is not None and not used):
        return "info", "other", 10.0
    if used:
        return "warning", "cause", 70.0
    return "info", "other", 5.0


def _foreign_modules(f: Facts, at: _PthAt) -> list[str]:
    """Modules found only through the project's own editable ``.pth`` that its distribution
    does not provide on the other side (a top-level ``helper.py`` next to the package)."""
    provided = provided_tops(f, at.harmless.partition(":")[2] if at.harmless else "")
    paths = at.pth.added_paths or at.pth.path_lines
    entries = [SysPathEntry(path=p, origin="pth", detail=at.pth.path, exists=True) for p in paths]
    return [m for m in _entry_modules(f, at.side, entries) if top(m) not in provided]


def _pth_path_fix(at: _PthAt, used: Sequence[str]) -> str:
    if at.harmless is not None and not used:
        return "nothing to do: the project's own editable install (tox installs the built package)"
    if at.harmless is not None:
        return (
            f"make {used[0]} part of the distribution (or set `pythonpath` in the pytest config): "
            f"{at.not_where} installs the built package, which does not include it"
        )
    if at.pth.known == "editable-install":
        return (
            "install the project the same way in both environments (tox: package = editable to match "
            "`pip install -e .`)"
        )
    return (
        "make the paths importable in both environments (install the package, or `pythonpath` "
        f"in the pytest config) instead of relying on {at.pth.name}"
    )


def customize_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA303: a sitecustomize/usercustomize present on one side only, or different."""
    assert ctx.diff is not None
    f = facts(ctx)
    for change in ctx.diff.customize:
        custom = change.target if change.kind in ("extra", "changed") else change.baseline
        assert custom is not None
        side = "target" if change.kind in ("extra", "changed") else "baseline"
        where, not_where = side_label(ctx, side), side_label(ctx, _other(side))
        app = _app_imports(f, custom.imported)
        effects = [f"module:{m}" for m in app] + runtime_env_tokens(
            f, side, files=[custom.path], modules=[custom.module, *custom.imported]
        )
        # Whatever this file itself did at start-up (e.g. dramatiq.set_broker(...)) is an effect:
        # findings about that code (broker set/created there) are explained by this one.
        acted = [f"module:{custom.module}"] + ([f"file:{custom.path}"] if custom.path else [])
        path = custom.path or custom.module
        if change.kind == "changed":
            title = f"{custom.module} differs between the two environments"
        else:
            title = f"a {custom.module} runs at start-up only {where} ({rel(ctx, path)})"
        detail = (
            f"{path} is executed by Python at start-up {where}, before pytest and every conftest"
            + ("" if change.kind == "changed" else f"; {not_where} has none")
            + f". It imported: {', '.join(custom.imported) or 'nothing non-stdlib'}."
        )
        if any(t.startswith("env:") for t in effects):
            detail += " It sets variables your code reads (see the findings it explains)."
        if side == "baseline":
            fix = (
                f"your local {custom.module} ({path}) does work the tox run does not: move it into "
                f"conftest.py "
                "(or set_env in tox.ini) so both runs do it, then delete it"
            )
        else:
            fix = f"remove {path} from the tox env, or make it free of application imports"
        yield finding(
            "BA303",
            "error" if effects else "warning",
            title,
            custom.module,
            detail,
            fix,
            location=Location(path) if custom.path else None,
            about=[f"file:{path}"],
            effects_on=effects + acted,
            group="cause",
            score=92.0 if effects else 65.0,
            side=side,
            path=custom.path,
            imported=list(custom.imported),
            sha256=custom.sha256,
        )


def _entry_modules(f: Facts, side: str, entries: Sequence[SysPathEntry]) -> list[str]:
    """Modules imported on ``side`` from ``entries`` and not from the same file on the other side."""
    mine, other = _side(f, side).snapshot, _side(f, _other(side)).snapshot
    other_files = {o.module: normalize_path(o.file, other) for o in other.imports.origins}
    first_importer: dict[str, str] = {}
    for event in mine.imports.timeline:
        first_importer.setdefault(event.module, event.importer or "")
    out = []
    for entry in entries:
        root = os.path.normpath(entry.path)
        for origin in mine.imports.origins:
            if not origin.file:
                continue
            file = os.path.normpath(origin.file)
            if os.path.dirname(file) != root and os.path.dirname(os.path.dirname(file)) != root:
                continue  # only top-level modules/packages directly on this entry
            leaf = origin.module.rpartition(".")[2]
            by_pytest = top(first_importer.get(origin.module, "_pytest")) in ("_pytest", "pytest")
            if (TESTISH.search(top(origin.module)) or TESTISH.search(leaf)) and by_pytest:
                continue  # test modules pytest imports are named by the import mode, not found on sys.path
            if other_files.get(origin.module) != normalize_path(origin.file, mine):
                out.append(origin.module)
    return _shallowest(out)


def sys_path_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA305: sys.path entries/order differ, including sys.path[0] (``python -m pytest`` vs ``pytest``)."""
    assert ctx.diff is not None
    assert ctx.baseline is not None
    f = facts(ctx)
    d = ctx.diff.sys_path
    if not d.changed:
        return
    reported = False
    for side, all_entries in (("baseline", d.missing), ("target", d.extra)):
        entries = tuple(e for e in all_entries if e.origin != "pth")
        if not entries:
            continue
        yield _sys_path_entries(ctx, f, side, entries)
        reported = True
    if not reported and (d.order_changed or d.first_changed):
        yield finding(
            "BA305",
            "info",
            "sys.path order differs",
            "sys.path",
            f"{side_label(ctx, 'baseline')}: {', '.join(d.baseline[:6])}; "
            f"{side_label(ctx, 'target')}: {', '.join(d.target[:6])}.",
            "nothing to do unless a module resolves differently (see BA502)",
            about=["syspath:order"],
            group="other",
            score=2.0,
        )


_INVOCATION_WORDS = {
    "python-m": "`python -m pytest` (puts the cwd first)",
    "pytest": "the `pytest` script (puts its bin/ first)",
}


def _sys_path_entries(ctx: DiagnosisContext, f: Facts, side: str, entries: Sequence[SysPathEntry]) -> Finding:
    """BA305 for the sys.path entries only ``side`` has (``.pth`` entries are BA302's)."""
    modules = _entry_modules(f, side, entries)
    where, not_where = side_label(ctx, side), side_label(ctx, _other(side))
    main = next((e for e in entries if e.origin == "invocation"), None) or next(
        (e for e in entries if _entry_modules(f, side, [e])), entries[0]
    )
    paths = ", ".join(e.path for e in entries[:4])
    shown = main.path if main.path in f.project_roots else rel(ctx, main.path)
    title = f"sys.path has {shown} only {where}"
    if modules:
        title += f": {modules[0]} imports only there" + (
            f" (+{len(modules) - 1})" if len(modules) > 1 else ""
        )
    detail = f"Entries only {where}: {paths}" + (" …" if len(entries) > 4 else "") + "."
    detail += _invocation_words(ctx)
    if any(e.origin == "pythonpath" for e in entries):
        detail += " Some come from PYTHONPATH, which tox does not pass by default."
    if modules:
        detail += f" Modules found through them {where} but not {not_where}: {', '.join(modules)}."
    severity: Severity = "warning" if modules else "info"
    return finding(
        "BA305",
        severity,
        title,
        main.path,
        detail,
        _sys_path_fix(side, modules, entries),
        about=[f"syspath:{e.path}" for e in entries]
        + (["pytest:syspath"] if all(e.origin in _PYTEST_ORIGINS for e in entries) else []),
        effects_on=[f"module:{m}" for m in modules],
        group="cause" if modules else "other",
        score=85.0 if modules else 5.0,
        side=side,
        entries=[{"path": e.path, "origin": e.origin, "detail": e.detail} for e in entries],
        modules=modules,
    )


def _invocation_words(ctx: DiagnosisContext) -> str:
    """`` Locally ran `python -m pytest` …; under tox the `pytest` script …`` (empty: the same way)."""
    assert ctx.baseline is not None
    b_inv, t_inv = ctx.baseline.meta.invocation, ctx.target.meta.invocation
    if b_inv == t_inv:
        return ""
    return (
        f" {side_label(ctx, 'baseline').capitalize()} ran {_INVOCATION_WORDS.get(b_inv, b_inv)}; "
        f"{side_label(ctx, 'target')} {_INVOCATION_WORDS.get(t_inv, t_inv)}."
    )


def _sys_path_fix(side: str, modules: Sequence[str], entries: Sequence[SysPathEntry] = ()) -> str:
    if modules and side == "baseline" and any(e.origin == "pythonpath" for e in entries):
        return (
            "see the PYTHONPATH finding: give the env the same entry (set_env) "
            "or set `pythonpath` in the pytest config"
        )
    if modules and side == "baseline":
        return (
            "make those modules importable the same way in both runs: install them as part of "
            "the project, "
            "or set `pythonpath = .` in the pytest config (or run tox's command as `python -m pytest`)"
        )
    if modules:
        return (
            "stop relying on the extra sys.path entry: install the module or set `pythonpath` "
            "in the pytest config"
        )
    return "nothing to do unless a module resolves differently (see BA502)"


#: sys.path entries pytest itself inserts (their differences follow from its configuration).
_PYTEST_ORIGINS = frozenset({"conftest", "pytest-rootdir", "pythonpath-ini"})

_IMPORTANT_FLAGS = frozenset({"isolated", "no_site", "ignore_environment", "safe_path", "no_user_site"})


def interpreter_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA306: interpreter version/implementation/flags differ."""
    assert ctx.diff is not None
    changes = {
        c.field: c for c in ctx.diff.interpreter if c.field not in ("hashseed", "flags.hash_randomization")
    }
    version = changes.pop("version", None)
    impl = changes.pop("implementation", None)
    if version is not None or impl is not None:
        yield _version_finding(ctx, version, impl)
    flags = {k[len("flags.") :]: v for k, v in changes.items() if k.startswith("flags.")}
    if flags:
        yield _flags_finding(ctx, flags)
    rest = {k: v for k, v in changes.items() if not k.startswith("flags.")}
    if rest:
        shown = "; ".join(f"{k}: {v.baseline} vs {v.target}" for k, v in sorted(rest.items()))
        yield finding(
            "BA306",
            "info",
            f"interpreter details differ ({', '.join(sorted(rest))})",
            "interpreter",
            f"{shown}.",
            "nothing to do unless the base interpreters differ by accident",
            about=["python:details"],
            group="other",
            score=1.0,
            changes={k: [v.baseline, v.target] for k, v in rest.items()},
        )


def _version_finding(ctx: DiagnosisContext, version: FieldChange | None, impl: FieldChange | None) -> Finding:
    """BA306 for another Python version or implementation (a warning if more than the patch level)."""
    b_ver = version.baseline if version else ctx.target.interpreter.version
    t_ver = version.target if version else ctx.target.interpreter.version
    minor = version is not None and b_ver.split(".")[:2] != t_ver.split(".")[:2]
    important = minor or impl is not None
    return finding(
        "BA306",
        "warning" if important else "info",
        f"Python {b_ver} {side_label(ctx, 'baseline')} vs {t_ver} {side_label(ctx, 'target')}"
        + (f" ({impl.baseline} vs {impl.target})" if impl is not None else ""),
        "python",
        "Different interpreters can resolve imports, defaults and installed wheels differently.",
        "run the same Python version locally and in tox (tox: basepython / env name like py312)",
        about=["python:version"],
        group="cause" if important else "other",
        score=25.0 if important else 3.0,
        baseline=b_ver,
        target=t_ver,
    )


def _flags_finding(ctx: DiagnosisContext, flags: dict[str, FieldChange]) -> Finding:
    """BA306 for ``sys.flags`` that differ (``flags``: by name without the ``flags.`` prefix)."""
    base, tgt = side_label(ctx, "baseline"), side_label(ctx, "target")
    important_flags = sorted(set(flags) & _IMPORTANT_FLAGS)
    shown = ", ".join(f"{k} {v.baseline}→{v.target}" for k, v in sorted(flags.items()))
    only_bytecode = set(flags) <= {"dont_write_bytecode"}
    group: Group = "cause" if important_flags else ("expected" if only_bytecode else "other")
    return finding(
        "BA306",
        "warning" if important_flags else "info",
        f"interpreter flags differ: {shown}",
        "interpreter flags",
        f"sys.flags differ ({base} → {tgt}): {shown}."
        + (" PYTHONDONTWRITEBYTECODE is not passed by tox." if "dont_write_bytecode" in flags else ""),
        "run the interpreter with the same options/variables (PYTHON* variables, -I, -S, -E, -P)"
        if important_flags
        else "nothing to do",
        about=[f"python:flag:{k}" for k in flags],
        group=group,
        score=30.0 if important_flags else 1.0,
        flags={k: [v.baseline, v.target] for k, v in flags.items()},
    )


@hookimpl
def broker_audit_rules() -> list[Callable[[DiagnosisContext], Iterable[Finding]]]:
    return [pth_rule, customize_rule, sys_path_rule, interpreter_rule]
