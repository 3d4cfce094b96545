"""Interventions: the differences between two snapshots that a re-probe of the target can undo.

Each :class:`Intervention` changes one thing in the target's run so that it matches the
baseline: a variable set or removed, a ``sys.path`` entry added, the baseline's cwd, pytest
configuration, ``addopts`` or invocation, a plugin switched off or loaded, a ``.pth`` file's exec
lines skipped, the baseline's ``sitecustomize`` run or the target's own skipped, the baseline's
copy of a package put first.
:func:`derive` lists them from the two snapshots (pure); :func:`keys_of` says which of them
test a finding's claim. A secret value lives only in ``env_set`` (hidden from ``repr``) and
goes only into the child's environment; ``words`` never shows it.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Iterable, Mapping

from packaging.utils import canonicalize_name

from tox_broker_audit.probe._tba_redact import MASK, is_secret_name, redact_text
from tox_broker_audit.snapshot.anchors import in_stdlib, is_under
from tox_broker_audit.snapshot.model import Distribution, EnvRead, PytestPlugin, Snapshot

__all__ = ["Intervention", "combine", "derive", "keys_of"]

Key = tuple[str, str]

#: Variables that are the run's plumbing, never a cause to test by setting them.
_PLUMBING = frozenset(
    {"PATH", "VIRTUAL_ENV", "PYTHONHOME", "PWD", "OLDPWD", "_", "SHLVL", "HOME", "TMPDIR", "COLUMNS", "LINES"}
)
#: Variables the interpreter or pytest reads without a trace in ``os.environ`` reads.
_ALWAYS = frozenset({"PYTHONPATH", "PYTHONSAFEPATH", "PYTHONNOUSERSITE", "PYTEST_ADDOPTS", "PYTEST_PLUGINS"})
#: Top-level packages the probe itself relies on: never swapped.
_TOOLING = frozenset(
    {"pytest", "_pytest", "pluggy", "py", "iniconfig", "packaging", "exceptiongroup", "tomli"}
)
#: ``.pth`` files of the packaging tools (``site`` emulation, editable finders): never a cause to skip.
_TOOL_PTH = frozenset(
    {"virtualenv", "setuptools", "setuptools-develop", "editable-install", "namespace-package"}
)
#: ``sys.path`` entry origins that come from how the run starts (not from pytest itself).
_PATH_ORIGINS = frozenset({"invocation", "pythonpath", "pth", "user-site", "runtime", "unknown"})


@dataclasses.dataclass(frozen=True)
class Intervention:
    """One change to the target's re-probe; ``keys`` name the differences it undoes."""

    keys: tuple[Key, ...]
    words: str
    env_set: tuple[tuple[str, str], ...] = dataclasses.field(default=(), repr=False)
    env_unset: tuple[str, ...] = ()
    path_prepend: tuple[str, ...] = ()
    overlay: tuple[str, ...] = ()  # baseline files/packages linked into a directory put first
    #: Also linked there when they exist and are pure Python (a plugin's likely dependencies).
    overlay_extra: tuple[str, ...] = ()
    args: tuple[str, ...] = ()  # pytest arguments put before the env's own
    skip_pth: tuple[str, ...] = ()
    run_files: tuple[str, ...] = ()
    skip_customize: tuple[str, ...] = ()  # ``sitecustomize``/``usercustomize`` not run at start-up
    cwd: str | None = None
    invocation: str | None = None
    xdist_controller: bool = False  # collect as the xdist controller, not as a worker
    #: Top-level names hidden from import (a package only the target has).
    hide: tuple[str, ...] = ()
    #: The baseline's test selection in place of the target's (None: the target's own).
    selection: tuple[str, ...] | None = None
    #: Why it cannot be run (empty: it can).
    untestable: str = ""


def combine(parts: Iterable[Intervention]) -> Intervention:
    """All of ``parts`` at once (a later cwd or invocation wins)."""
    chosen = list(parts)
    merged = Intervention(keys=(), words=" and ".join(p.words for p in chosen))
    for part in chosen:
        merged = dataclasses.replace(
            merged,
            keys=(*merged.keys, *part.keys),
            env_set=(*merged.env_set, *part.env_set),
            env_unset=(*merged.env_unset, *part.env_unset),
            path_prepend=(*merged.path_prepend, *part.path_prepend),
            overlay=(*merged.overlay, *part.overlay),
            overlay_extra=(*merged.overlay_extra, *part.overlay_extra),
            args=(*merged.args, *part.args),
            skip_pth=(*merged.skip_pth, *part.skip_pth),
            run_files=(*merged.run_files, *part.run_files),
            skip_customize=(*merged.skip_customize, *part.skip_customize),
            cwd=part.cwd or merged.cwd,
            invocation=part.invocation or merged.invocation,
            xdist_controller=merged.xdist_controller or part.xdist_controller,
            hide=(*merged.hide, *part.hide),
            selection=part.selection if part.selection is not None else merged.selection,
            untestable=merged.untestable or part.untestable,
        )
    return merged


def derive(
    baseline: Snapshot, target: Snapshot, values: Mapping[str, str] | None, env_name: str = "the env"
) -> tuple[Intervention, ...]:
    """Every intervention that undoes one difference of ``target`` from ``baseline``.

    ``values``: the environment the baseline ran with (live), or None for a snapshot file
    (then only the non-secret values it stored can be set).
    """
    found = (
        *_environ(baseline, target, values, env_name),
        *_invocation(baseline, target),
        *_xdist(baseline, target),
        *_sys_path(baseline, target),
        *_config(baseline, target),
        *_addopts(baseline, target),
        *_plugins(baseline, target),
        *_startup(baseline, target),
        *_packages(baseline, target),
        *_target_only(baseline, target),
        *_selection(baseline, target),
    )
    return tuple(dataclasses.replace(i, keys=tuple(_norm(key) for key in i.keys)) for i in found)


def _norm(key: Key) -> Key:
    """Distribution and plugin names compare as packaging normalises them (``Notify_SVC``)."""
    kind, subject = key
    if kind in ("dist", "plugin"):
        return kind, canonicalize_name(subject)
    return key


def _shown(name: str, value: str) -> str:
    if is_secret_name(name):
        return f"{name} (secret value)"
    shown = redact_text(value)
    return f"{name}={shown if len(shown) <= 40 else shown[:37] + '...'}"


def _environ(
    baseline: Snapshot, target: Snapshot, values: Mapping[str, str] | None, env_name: str
) -> list[Intervention]:
    mine = {v.name: v for v in baseline.environ.variables}
    theirs = {v.name: v for v in target.environ.variables}
    read = (
        {r.name for r in _meaningful_reads(baseline)} | {r.name for r in _meaningful_reads(target)} | _ALWAYS
    )
    out = []
    for name in sorted(read - _PLUMBING):
        base, tgt = mine.get(name), theirs.get(name)
        if base is None and tgt is not None:
            out.append(Intervention(keys=(("env", name),), words=f"with {name} removed", env_unset=(name,)))
            continue
        if base is None or (tgt is not None and tgt.fingerprint == base.fingerprint):
            continue
        value = values.get(name) if values is not None else (None if base.secret else base.value)
        verb = "passed into" if tgt is None else "as in the baseline in"
        if value is None:
            out.append(
                Intervention(
                    keys=(("env", name),),
                    words=f"with {name} {verb} {env_name}",
                    untestable=(
                        "the baseline is a snapshot file, which stores no secret values"
                        if values is None
                        else "its local value is not in the environment tox was started with"
                    ),
                )
            )
            continue
        words = f"with {_shown(name, value)} {verb} {env_name}"
        out.append(Intervention(keys=(("env", name),), words=words, env_set=((name, value),)))
    return out


def _meaningful_reads(snapshot: Snapshot) -> list[EnvRead]:
    """Reads by code that can choose a broker: not the stdlib's, not pytest's own."""
    out = []
    for entry in snapshot.environ.reads:
        module = entry.module or ""
        if module.split(".")[0] in _TOOLING or module.startswith(("xdist", "_tba")):
            continue
        if in_stdlib(entry.file, snapshot):
            continue
        out.append(entry)
    return out


def _invocation(baseline: Snapshot, target: Snapshot) -> list[Intervention]:
    mine, theirs = baseline.meta.invocation, target.meta.invocation
    if mine in (theirs, "pytest-run") or theirs == "pytest-run":
        return []
    shown = "`python -m pytest`" if mine == "python-m" else "the `pytest` script"
    return [Intervention(keys=(("invocation", ""),), words=f"run as {shown}", invocation=mine)]


def _xdist(baseline: Snapshot, target: Snapshot) -> list[Intervention]:
    if not target.pytest.xdist_worker or baseline.pytest.xdist_worker:
        return []
    words = "collected in one process as the xdist controller (where a workerinput guard lets set-up run)"
    return [Intervention(keys=(("xdist", ""),), words=words, xdist_controller=True)]


def _sys_path(baseline: Snapshot, target: Snapshot) -> list[Intervention]:
    theirs = {os.path.normcase(e.path) for e in target.sys_path}
    prefix = os.path.normpath(baseline.interpreter.prefix)
    out = []
    for entry in baseline.sys_path:
        if entry.origin not in _PATH_ORIGINS or not entry.exists or os.path.normcase(entry.path) in theirs:
            continue
        if is_under(os.path.normpath(entry.path), prefix):
            continue  # the baseline venv's own directories: a package difference, not a path one
        out.append(
            Intervention(
                keys=(("path", entry.path),),
                words=f"with {entry.path} on sys.path",
                path_prepend=(entry.path,),
            )
        )
    return out


def _config(baseline: Snapshot, target: Snapshot) -> list[Intervention]:
    out = []
    if baseline.meta.cwd != target.meta.cwd:
        out.append(
            Intervention(keys=(("cwd", ""),), words=f"run from {baseline.meta.cwd}", cwd=baseline.meta.cwd)
        )
    mine, theirs = baseline.pytest, target.pytest
    if mine.inifile and (mine.inifile, mine.rootdir) != (theirs.inifile, theirs.rootdir):
        args = ("-c", mine.inifile, *(("--rootdir", mine.rootdir) if mine.rootdir else ()))
        out.append(Intervention(keys=(("config", ""),), words=f"with pytest's `{' '.join(args)}`", args=args))
    return out


def _ini_addopts(snapshot: Snapshot) -> tuple[str, ...] | None:
    """The ini file's ``addopts`` alone: the snapshot's ``addopts`` are the ini's, then
    ``PYTEST_ADDOPTS`` (docs/snapshot-schema.md); None when they cannot be told apart."""
    env = next((v for v in snapshot.environ.variables if v.name == "PYTEST_ADDOPTS"), None)
    if env is None or not env.value.strip():
        return snapshot.pytest.addopts
    try:
        tail = len(shlex.split(env.value))
    except ValueError:
        return None
    opts = snapshot.pytest.addopts
    return opts[: len(opts) - tail] if tail <= len(opts) else None


def _addopts(baseline: Snapshot, target: Snapshot) -> list[Intervention]:
    """The baseline's ini ``addopts`` in place of the target's (``-o addopts=...``)."""
    mine, theirs = _ini_addopts(baseline), _ini_addopts(target)
    if not baseline.pytest.available or mine is None or theirs is None or mine == theirs:
        return []
    value = shlex.join(mine)
    words = f"with the baseline's addopts (`-o addopts={value if len(value) <= 60 else value[:57] + '...'}`)"
    hidden = any(MASK in opt for opt in mine)
    return [
        Intervention(
            keys=(("addopts", ""),),
            words=words,
            args=() if hidden else ("-o", f"addopts={value}"),
            untestable="the baseline's addopts hold a hidden (secret) value" if hidden else "",
        )
    ]


def _top_path(module: str | None, file: str | None) -> str | None:
    """Where the top-level package (or module) of ``module`` lives, from the file of ``module``."""
    if not module or not file:
        return None
    path = os.path.dirname(file) if os.path.basename(file) == "__init__.py" else file
    for _ in range(module.count(".")):
        path = os.path.dirname(path)
    return path


def _plugins(baseline: Snapshot, target: Snapshot) -> list[Intervention]:
    outside = ("entry-point", "-p", "PYTEST_PLUGINS")

    def loaded(p: PytestPlugin) -> bool:
        # "other": a run that stopped while plugins loaded could not tell how; a distribution's
        # plugin came from its entry point.
        return p.how in outside or (p.how == "other" and p.distribution is not None)

    mine = {p.name: p for p in baseline.pytest.plugins if loaded(p)}
    theirs = {p.name: p for p in target.pytest.plugins if loaded(p)}
    out = []
    for name in sorted(set(theirs) - set(mine)):
        plugin = theirs[name]
        keys = (("plugin", name), *((("plugin", plugin.distribution),) if plugin.distribution else ()))
        out.append(Intervention(keys=keys, words=f"with `-p no:{name}`", args=("-p", f"no:{name}")))
    for name in sorted(set(mine) - set(theirs)):
        plugin = mine[name]
        # Its distribution (BA201 "installed locally only") is tested by loading the plugin:
        # the package alone on sys.path registers no entry point.
        dist = (("plugin", plugin.distribution), ("dist", plugin.distribution)) if plugin.distribution else ()
        keys = (("plugin", name), *dist)
        where = _top_path(plugin.module, plugin.file)
        if not plugin.module or where is None:
            continue
        out.append(
            Intervention(
                keys=keys,
                words=f"with the baseline's plugin {plugin.distribution or name} (`-p {plugin.module}`)",
                overlay=(where,),
                overlay_extra=_baseline_only_tops(baseline, target),
                args=("-p", plugin.module),
            )
        )
    return out


def _baseline_only_tops(baseline: Snapshot, target: Snapshot) -> tuple[str, ...]:
    """Top-level packages of distributions only the baseline has: a plugin's dependencies
    (pytest-env needs python-dotenv) are among them."""
    theirs = {d.name for d in target.distributions}
    return tuple(
        os.path.join(d.location, top)
        for d in baseline.distributions
        if d.name not in theirs and not d.editable
        for top in d.top_level
        if top and not top.startswith("_")
    )


def _startup(baseline: Snapshot, target: Snapshot) -> list[Intervention]:
    out = []
    mine = {p.name: p for p in baseline.startup.pth_files}
    for pth in target.startup.pth_files:
        same = mine.get(pth.name)
        if pth.known in _TOOL_PTH:
            continue
        if pth.exec_lines and pth.processed and (same is None or same.exec_lines != pth.exec_lines):
            out.append(
                Intervention(
                    keys=(("pth", pth.name),),
                    words=f"without the exec lines of {pth.name}",
                    skip_pth=(pth.name,),
                )
            )
    base, tgt = baseline.startup.sitecustomize, target.startup.sitecustomize
    if base is not None and base.path and (tgt is None or tgt.sha256 != base.sha256):
        out.append(
            Intervention(
                keys=(("sitecustomize", "sitecustomize"),),
                words=f"with the baseline's sitecustomize ({base.path}) run at start-up",
                run_files=(base.path,),
            )
        )
    return out + _target_only_customize(baseline, target)


def _target_only_customize(baseline: Snapshot, target: Snapshot) -> list[Intervention]:
    """A ``sitecustomize``/``usercustomize`` only the target runs at start-up, not run."""
    out = []
    for mine, theirs in (
        (baseline.startup.sitecustomize, target.startup.sitecustomize),
        (baseline.startup.usercustomize, target.startup.usercustomize),
    ):
        if theirs is None or not theirs.path or (mine is not None and mine.path):
            continue
        out.append(
            Intervention(
                keys=(("sitecustomize", theirs.module),),
                words=f"without the {theirs.module} of the env ({theirs.path}) at start-up",
                skip_customize=(theirs.module,),
            )
        )
    return out


def _packages(baseline: Snapshot, target: Snapshot) -> list[Intervention]:
    theirs = {o.module: o for o in target.imports.origins if "." not in o.module}
    plugin_dists = {p.distribution for p in baseline.pytest.plugins if p.distribution} - {
        p.distribution for p in target.pytest.plugins if p.distribution
    }
    dists_mine = {d.name: d for d in baseline.distributions}
    dists_theirs = {d.name: d for d in target.distributions}
    out = []
    for origin in baseline.imports.origins:
        top = origin.module
        if "." in top or top in _TOOLING or top.startswith(("_tba", "__editable__")) or not origin.file:
            continue
        if origin.distribution in plugin_dists:
            continue  # a plugin the target lacks: loading it is the experiment (see _plugins)
        other = theirs.get(top)
        if (
            other is not None
            and not _differs(origin.distribution, other.distribution, dists_mine, dists_theirs)
            and origin.in_project == other.in_project
        ):
            continue
        where = _top_path(top, origin.file)
        if where is None or (other is not None and other.file == origin.file):
            continue
        keys = (("package", top), *((("dist", origin.distribution),) if origin.distribution else ()))
        if other is not None and other.distribution:
            keys = (*keys, ("dist", other.distribution))
        out.append(
            Intervention(
                keys=keys, words=f"with the baseline's {top} ({where}) first on sys.path", overlay=(where,)
            )
        )
    return out


def _target_only(baseline: Snapshot, target: Snapshot) -> list[Intervention]:
    """A package imported only in the target, from a distribution the baseline does not have
    at all: hidden from import, as it is there (``try: import redis`` takes the other branch)."""
    mine = {d.name for d in baseline.distributions}
    imported = {o.module for o in baseline.imports.origins if "." not in o.module}
    out = []
    for origin in target.imports.origins:
        top, dist = origin.module, origin.distribution
        if "." in top or top in _TOOLING or top.startswith(("_tba", "__editable__")) or origin.in_project:
            continue
        if dist is None or canonicalize_name(dist) in mine or top in imported:
            continue
        out.append(
            Intervention(
                keys=(("package", top), ("dist", dist)),
                words=f"with {dist} hidden from import (it is not installed locally)",
                hide=(top,),
            )
        )
    return out


def _selection(baseline: Snapshot, target: Snapshot) -> list[Intervention]:
    """The tests the baseline's run selects in place of the target's (the developer runs the
    whole suite, the env a part: what the rest of the suite loads is missing)."""
    from tox_broker_audit._command import selection_args

    mine = selection_args(baseline.pytest.args, baseline.meta.cwd)
    theirs = selection_args(target.pytest.args, target.meta.cwd)
    if mine == theirs or not target.pytest.available or target.pytest.not_collected:
        return []
    shown = " ".join(
        ("pytest", *(os.path.relpath(a, baseline.meta.cwd) if os.path.isabs(a) else a for a in mine))
    )
    return [
        Intervention(
            keys=(("selection", ""),), words=f"with the local run's selection (`{shown}`)", selection=mine
        )
    ]


def _differs(
    mine: str | None,
    theirs: str | None,
    dists_mine: Mapping[str, Distribution],
    dists_theirs: Mapping[str, Distribution],
) -> bool:
    if mine != theirs:
        return True
    if mine is None:
        return False
    a, b = dists_mine.get(mine), dists_theirs.get(mine)
    if a is None or b is None:
        return True
    return (a.version, a.editable) != (b.version, b.editable)


#: Which intervention keys test a finding, by code (the subject fills in the key).
_BY_CODE: Mapping[str, tuple[str, ...]] = {
    "BA101": ("env",),
    "BA102": ("env",),
    "BA103": ("env",),
    "BA104": ("env",),
    "BA201": ("dist",),
    "BA202": ("dist",),
    "BA203": ("dist",),
    "BA204": ("dist",),
    "BA301": ("pth",),
    "BA302": ("pth",),
    "BA303": ("sitecustomize",),
    "BA305": ("path", "invocation"),
    "BA401": ("plugin",),
    "BA402": ("plugin",),
    "BA405": ("plugin",),
    "BA403": ("config", "cwd", "addopts"),
    "BA404": ("cwd", "config", "selection"),
    "BA407": ("cwd",),
    "BA408": ("xdist",),
    "BA501": ("invocation",),
    "BA502": ("package",),
}


def keys_of(code: str, subject: str) -> tuple[Key, ...]:
    """The intervention keys that test a finding ``code`` about ``subject``."""
    out: list[Key] = []
    for kind in _BY_CODE.get(code, ()):
        if kind == "addopts" and subject != "addopts":
            continue  # only the BA403 about addopts is tested by the baseline's addopts
        if kind in ("cwd", "config", "invocation", "xdist", "addopts", "selection"):
            out.append((kind, ""))
        elif kind == "package":
            out.append((kind, subject.split(".", maxsplit=1)[0]))
        else:
            out.append((kind, subject))
    return tuple(_norm(key) for key in out)
