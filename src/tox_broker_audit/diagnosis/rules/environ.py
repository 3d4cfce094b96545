"""BA101–BA104: environment variables that differ, ranked by whether the code read them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tox_broker_audit.diagnosis.hooks import hookimpl
from tox_broker_audit.diagnosis.model import DiagnosisContext, Finding, Fix, Group, Location, Severity
from tox_broker_audit.probe._tba_redact import is_secret_name
from tox_broker_audit.snapshot.anchors import is_inside
from tox_broker_audit.snapshot.model import EnvRead, EnvVar

from ._common import (
    PHASE_WORDS,
    USE_WEIGHT,
    Facts,
    SideFacts,
    Use,
    facts,
    finding,
    is_expected_env,
    named_in_crash,
    rel,
    side_label,
)

__all__ = ["broker_audit_rules", "env_rule", "hashseed_rule"]


def _setter(ctx: DiagnosisContext, f: Facts, name: str, side: str) -> str | None:
    """Where ``name`` was set at run time on ``side`` (from the probe's write trace), in words."""
    facts_side = f.baseline if side == "baseline" else f.target
    if facts_side is None:
        return None
    for write in facts_side.snapshot.environ.writes:
        if write.name == name and write.how in ("setitem", "setdefault") and write.file:
            where = rel(ctx, write.file) + (f":{write.line}" if write.line else "")
            return f"{where} {PHASE_WORDS.get(write.phase, '')}".rstrip()
    return None


def _late_setter(ctx: DiagnosisContext, f: Facts, name: str) -> tuple[str, set[str], str] | None:
    """(setter, reading modules, when) if the target also sets ``name`` but read it unset before."""
    setter = _setter(ctx, f, name, "target")
    if setter is None or f.target is None:
        return None
    early = [r for r in f.target.snapshot.environ.reads if r.name == name and not r.present and r.module]
    if not early:
        return None
    when = PHASE_WORDS.get(early[0].phase, early[0].phase)
    return setter, {r.module for r in early if r.module}, when


def _severity(use: Use, expected: bool, strong: Severity = "error") -> tuple[Severity, Group]:
    if expected and use not in ("project", "hook"):
        return "info", "expected"
    if use in ("project", "hook"):
        return strong, "cause"
    if use == "library":
        return "warning", "cause"
    return "info", "other"


def _in_title(var: EnvVar | None) -> str:
    """The value in a title's brackets: "is set locally (=1)", "(secret, value hidden)"."""
    return "secret, value hidden" if var is not None and _secret(var) else _shown(var)


def _secret(var: EnvVar) -> bool:
    """Secret as the probe said, or by its name (a snapshot file from an older probe)."""
    return var.secret or is_secret_name(var.name)


def _shown(var: EnvVar | None) -> str:
    if var is None:
        return "unset"
    if _secret(var):
        return "set (secret, value hidden)"
    return f"={var.value}" if len(var.value) <= 60 else f"={var.value[:57]}..."


def _best_read(f: Facts, name: str, prefer_side: str) -> tuple[SideFacts, EnvRead, Use] | None:
    reads = f.reads_of(name)
    if not reads:
        return None
    order = ("project", "hook", "library", "internal", "none")
    return min(reads, key=lambda r: (order.index(r[2]), r[0].side != prefer_side))


def _library_path(path: str) -> str:
    """A library's file as its import path shows it (``celery/app/utils.py``), not the env's."""
    head, sep, tail = path.replace("\\", "/").rpartition("-packages/")
    return tail if sep and head else path


def _read_words(
    ctx: DiagnosisContext, f: Facts, name: str, prefer_side: str
) -> tuple[str, list[str], dict[str, Any]]:
    """("read by app/broker.py:7 during collection", effect tokens, evidence)."""
    best = _best_read(f, name, prefer_side)
    # A crash that names the variable is its effect (rules/failures.py: the crash is about env:NAME).
    crashed = [f"env:{name}"] if named_in_crash(ctx.target, name) else []
    if best is None:
        return "no code read it during start-up or collection", crashed, {"read_by": None}
    side, read, use = best
    where = _library_path(rel(ctx, read.file)) + (f":{read.line}" if read.line else "")
    call = {"getenv": f'os.getenv("{name}")', "get": f'os.environ.get("{name}")'}.get(
        read.how, f'os.environ["{name}"]'
    )
    words = f"read by {where} {PHASE_WORDS.get(read.phase, '')}".rstrip()
    if read.how in ("get", "getenv") and not read.present:
        words += f" → {call} returned None {side_label(ctx, side.side)}"
    effects: list[str] = []
    for _s, r, u in f.reads_of(name):
        # setdefault/pop *write* the variable: that code is a cause, not an effect.
        if u in ("project", "hook", "library") and r.how not in ("setdefault", "pop"):
            if r.module:
                effects.append(f"module:{r.module}")
            if r.file:
                effects.append(f"file:{r.file}")
    effects += crashed
    evidence = {
        "read_by": {
            "file": read.file,
            "line": read.line,
            "module": read.module,
            "phase": read.phase,
            "how": read.how,
        },
        "use": use,
    }
    return words, effects, evidence


def _pass_env_fix(ctx: DiagnosisContext, var: EnvVar | None, name: str) -> tuple[str | Fix, Location | None]:
    tox = ctx.tox
    if tox is not None and name in tox.pass_env:
        return (
            f"{name} is in pass_env but was not set when tox started: export it before running tox "
            f"(or set_env = {name}=…)",
            None,
        )
    value = var.value if var is not None and not _secret(var) and var.value else ""
    return Fix("pass_env", name, value), None


def _python_path_entries(ctx: DiagnosisContext, f: Facts) -> tuple[list[str], list[str]]:
    """(entries, project modules) the baseline's interpreter put on sys.path from PYTHONPATH.

    The interpreter reads PYTHONPATH itself, at start-up: no ``os.environ`` read shows it, the
    sys.path origins do."""
    if ctx.baseline is None:
        return [], []
    entries = [e.path for e in ctx.baseline.sys_path if e.origin == "pythonpath" and e.exists]
    modules = [
        o.module
        for o in ctx.baseline.imports.origins
        if o.file and f.is_app_module(o.module) and any(is_inside(o.file, e) for e in entries)
    ]
    return entries, modules


def _missing_python_path(ctx: DiagnosisContext, f: Facts, var: EnvVar | None) -> Finding | None:
    """BA101 for PYTHONPATH when the project's own modules were found through it locally."""
    entries, modules = _python_path_entries(ctx, f)
    if not modules:
        return None
    base, tgt = side_label(ctx, "baseline"), side_label(ctx, "target")
    where = rel(ctx, entries[0])
    shown = ", ".join(sorted({m.partition(".")[0] for m in modules}))
    return finding(
        "BA101",
        "error",
        f"PYTHONPATH is set {base} ({_in_title(var)}) but tox does not pass it: {shown} is found through it",
        "PYTHONPATH",
        f"{base.capitalize()} the interpreter puts {', '.join(entries)} on sys.path from PYTHONPATH, and "
        f"{', '.join(modules[:5])} {'is' if len(modules) == 1 else 'are'} imported from there; {tgt} "
        "PYTHONPATH is not passed, so they are not found there (or another copy is).",
        Fix("python_path", "PYTHONPATH", where),
        about=["env:PYTHONPATH"],
        effects_on=[*(f"syspath:{e}" for e in entries), *(f"module:{m}" for m in modules)],
        group="cause",
        score=USE_WEIGHT["project"] + 5,
        summary=f"the interpreter read it at start-up → {where} on sys.path {base} only",
        entries=entries,
    )


def _missing(ctx: DiagnosisContext, f: Facts, name: str, var: EnvVar | None, runtime: bool) -> Finding:
    """BA101: ``name`` is set on the baseline side but not on the target side."""
    late = _late_setter(ctx, f, name) if runtime else None
    if late is not None:
        return _read_too_early(ctx, f, name, late)
    python_path = _missing_python_path(ctx, f, var) if name == "PYTHONPATH" and not runtime else None
    if python_path is not None:
        return python_path
    fix: str | Fix
    use = f.use_of_env(name)
    if use == "none" and named_in_crash(ctx.target, name):
        use = "project"  # nobody was seen reading it, but the crash says the code needs it
    severity, group = _severity(use, is_expected_env(name))
    words, effects, ev = _read_words(ctx, f, name, "target")
    if runtime:
        title, detail = _missing_at_run_time(ctx, f, name, words)
        fix, location = Fix("set_env", name), None
    else:
        title, detail = _missing_at_start(ctx, name, var, words)
        if is_expected_env(name) and use not in ("project", "hook"):
            fix, location = "nothing to do: tox strips or rebuilds it on purpose", None
        else:
            fix, location = _pass_env_fix(ctx, var, name)
    return finding(
        "BA101",
        severity,
        title,
        name,
        detail,
        fix,
        location=location,
        about=[f"env:{name}"],
        effects_on=effects if use != "internal" else [],
        group=group,
        score=USE_WEIGHT[use] + (5 if not is_expected_env(name) else 0),
        summary=words,
        runtime_set=runtime,
        **ev,
    )


def _set_by_the_run(ctx: DiagnosisContext, f: Facts, name: str) -> Finding | None:
    """BA101 (info) when the target's start environment lacks ``name`` but its run sets it
    itself (pytest-django from its ini option, pytest-env, a conftest) before any code read it:
    what the code sees is the same, so it is no difference tox made."""
    setter = _setter(ctx, f, name, "target")
    if setter is None or any(r.name == name and not r.present for r in ctx.target.environ.reads):
        return None
    base, tgt = side_label(ctx, "baseline"), side_label(ctx, "target")
    return finding(
        "BA101",
        "info",
        f"{name} is set {base} at start; {tgt} the run sets it itself ({setter})",
        name,
        f"{name} is in the start environment {base} only, but {tgt} {setter} sets it before any "
        "code reads it, so the code sees it in both runs.",
        "nothing to do: the test run sets it itself",
        about=[f"env:{name}"],
        group="other",
        score=1.0,
        set_by=setter,
    )


def _read_too_early(ctx: DiagnosisContext, f: Facts, name: str, late: tuple[str, set[str], str]) -> Finding:
    """BA101 when both sides set ``name`` at run time, but under tox something read it before the
    setter ran: the read was moved earlier (an early import), the variable is not "missing"."""
    use = f.use_of_env(name)
    severity, group = _severity(use, is_expected_env(name))
    words, effects, ev = _read_words(ctx, f, name, "target")
    base, tgt = side_label(ctx, "baseline"), side_label(ctx, "target")
    late_setter, readers, when = late
    detail = (
        f"{name} is set at run time on both sides by {late_setter}, but {tgt} the code that reads it ran "
        f"first ({when}); {base} it ran after. {words}. Whatever imported the reader that early is "
        "the cause (see the finding that explains this one)."
    )
    fix = (
        f"do not import {', '.join(sorted(readers)) or 'the reading module'} before {late_setter} runs "
        "(see the finding that explains this one), or set the variable before start-up "
        f"(set_env = {name}=…)"
    )
    return finding(
        "BA101",
        severity,
        f"{name} is read {tgt} {when}, before {late_setter} sets it",
        name,
        detail,
        fix,
        about=[f"env:{name}", *(f"module:{m}" for m in readers)],
        effects_on=effects if use != "internal" else [],
        group=group,
        score=USE_WEIGHT[use],
        summary=words,
        runtime_set=True,
        read_too_early=True,
        **ev,
    )


def _missing_at_run_time(ctx: DiagnosisContext, f: Facts, name: str, words: str) -> tuple[str, str]:
    """(title, detail) of a variable no start environment had, set at run time on the baseline side only."""
    base, tgt = side_label(ctx, "baseline"), side_label(ctx, "target")
    setter = _setter(ctx, f, name, "baseline")
    if setter:
        title = f"{name} is set at run time {base} by {setter} but not {tgt}"
        by = f"{base} {setter} sets it before the code reads it"
    else:
        title = f"{name} is set at run time {base} (not by your shell) but not {tgt}"
        by = (
            f"{base} something (a sitecustomize, .pth file or pytest plugin) sets it before the code reads it"
        )
    detail = f"{name} is not in either environment at start-up, but {by}; {tgt} nothing does. {words}."
    return title, detail


def _missing_at_start(ctx: DiagnosisContext, name: str, var: EnvVar | None, words: str) -> tuple[str, str]:
    """(title, detail) of a variable in the baseline's start environment but not in the target's."""
    base, tgt = side_label(ctx, "baseline"), side_label(ctx, "target")
    if ctx.tox is not None or ctx.env_name:
        tail = f"tox does not pass it into {ctx.env_name or 'the env'}"
    else:
        tail = f"it is not set {tgt}"
    title = f"{name} is set {base} ({_in_title(var)}) but {tail}"
    detail = f"{name} is {_shown(var)} {base} and unset {tgt}; {words}."
    if is_expected_env(name):
        detail += " tox strips or rebuilds this variable on purpose."
    return title, detail


def _added(ctx: DiagnosisContext, f: Facts, name: str, var: EnvVar | None, runtime: bool) -> Finding:
    fix: str | Fix
    use = f.use_of_env(name)
    severity, group = _severity(use, is_expected_env(name), strong="warning")
    words, effects, ev = _read_words(ctx, f, name, "target")
    base, tgt = side_label(ctx, "baseline"), side_label(ctx, "target")
    tox = ctx.tox
    if runtime:
        setter = _setter(ctx, f, name, "target")
        title = f"{name} is set at run time {tgt}" + (f" by {setter}" if setter else "") + f" but not {base}"
        detail = (
            f"{name} is not in either start-up environment, but {tgt} "
            + (setter or "something")
            + f" sets it before the code reads it; {words}."
        )
        fix, location = "find what sets it under tox (a plugin or .pth in the env's deps) and remove it", None
    else:
        title = f"{name} is set only {tgt} ({_in_title(var)})"
        detail = f"{name} is unset {base} and {_shown(var)} {tgt}; {words}."
        if tox is not None and name in tox.set_env:
            fix, location = Fix("unset_env", name), None
        elif is_expected_env(name):
            detail += " tox sets this variable itself."
            fix, location = "nothing to do: tox sets it", None
        else:
            fix, location = (
                f"find where {name} comes from under tox (set_env, CI variables, pass_env wildcard) "
                f"and unset it",
                None,
            )
    return finding(
        "BA102",
        severity,
        title,
        name,
        detail,
        fix,
        location=location,
        about=[f"env:{name}"],
        effects_on=effects if use != "internal" else [],
        group=group,
        score=USE_WEIGHT[use],
        summary=words,
        runtime_set=runtime,
        **ev,
    )


def _changed(  # noqa: PLR0917 - private helper
    ctx: DiagnosisContext, f: Facts, name: str, b: EnvVar | None, t: EnvVar | None, comparable: bool
) -> Finding:
    fix: str | Fix
    use = f.use_of_env(name)
    expected = is_expected_env(name)
    severity, group = _severity(use, expected)
    if not comparable and severity != "info":
        severity = "info" if use not in ("project", "hook") else "warning"
    words, effects, ev = _read_words(ctx, f, name, "target")
    base, tgt = side_label(ctx, "baseline"), side_label(ctx, "target")
    if comparable:
        title = f"{name} differs: {_shown(b)} {base}, {_shown(t)} {tgt}"
        detail = f"{name} is {_shown(b)} {base} but {_shown(t)} {tgt}; {words}."
    else:
        title = f"{name} is set on both sides but cannot compare its values (secret)"
        detail = (
            f"{name} is secret and the two snapshots were fingerprinted with different keys, so equality "
            f"cannot be checked; {words}."
        )
    tox = ctx.tox
    if tox is not None and name in tox.set_env:
        fix, location = Fix("override_env", name), None
    elif expected:
        fix, location = "nothing to do: tox sets this variable itself", None
    else:
        fix, location = f"make {name} the same in both environments (tox: set_env or pass_env)", None
    return finding(
        "BA103",
        severity,
        title,
        name,
        detail,
        fix,
        location=location,
        about=[f"env:{name}"],
        effects_on=effects if use != "internal" else [],
        group=group,
        score=USE_WEIGHT[use] - 5,
        comparable=comparable,
        summary=words,
        **ev,
    )


def env_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA101/BA102/BA103 from the environment diff, plus variables set at run time on one side."""
    assert ctx.diff is not None
    f = facts(ctx)
    seen: set[str] = set()
    for change in ctx.diff.environ:
        if change.name == "PYTHONHASHSEED":
            continue  # BA104
        seen.add(change.name)
        if change.kind == "missing":
            yield _set_by_the_run(ctx, f, change.name) or _missing(
                ctx, f, change.name, change.baseline, False
            )
        elif change.kind == "added":
            yield _added(ctx, f, change.name, change.target, runtime=False)
        else:
            yield _changed(ctx, f, change.name, change.baseline, change.target, change.kind == "changed")
    base, tgt = f.baseline, f.target
    assert base is not None
    # Variables the code saw set on one side only although no start environment had them:
    # something at run time (sitecustomize, .pth, pytest-env…) set them.
    for name in sorted((base.runtime_set ^ tgt.runtime_set) - seen):
        if name in base.env or name in tgt.env:
            continue
        strong = [r for r in f.reads_of(name) if r[2] in ("project", "hook", "library")]
        if not strong:
            continue
        if name in base.runtime_set:
            yield _missing(ctx, f, name, None, runtime=True)
        else:
            yield _added(ctx, f, name, None, runtime=True)


def hashseed_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA104: PYTHONHASHSEED differs (tox sets a random one; it rarely matters)."""
    assert ctx.baseline is not None
    b, t = ctx.baseline, ctx.target
    b_env = next((v for v in b.environ.variables if v.name == "PYTHONHASHSEED"), None)
    t_env = next((v for v in t.environ.variables if v.name == "PYTHONHASHSEED"), None)
    b_seed = b.interpreter.hashseed or (b_env.value if b_env else None)
    t_seed = t.interpreter.hashseed or (t_env.value if t_env else None)
    if b_seed == t_seed:
        return
    use = facts(ctx).use_of_env("PYTHONHASHSEED")
    used = use in ("project", "hook")
    yield finding(
        "BA104",
        "warning" if used else "info",
        f"PYTHONHASHSEED differs: {b_seed or 'random'} {side_label(ctx, 'baseline')}, "
        f"{t_seed or 'random'} {side_label(ctx, 'target')}",
        "PYTHONHASHSEED",
        "tox sets a random PYTHONHASHSEED for every run; set/dict iteration order of strings changes between "
        "runs. It matters only when the code depends on that order.",
        "if order matters, sort explicitly; to reproduce: tox --hashseed=" + (b_seed or "noset")
        if used
        else "nothing to do unless the test outcome depends on set/dict ordering",
        about=["env:PYTHONHASHSEED"],
        group="cause" if used else "expected",
        score=USE_WEIGHT[use],
        baseline=b_seed,
        target=t_seed,
    )


@hookimpl
def broker_audit_rules() -> list[Callable[[DiagnosisContext], Iterable[Finding]]]:
    return [env_rule, hashseed_rule]
