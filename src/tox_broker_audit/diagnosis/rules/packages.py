"""BA201–BA204: installed distributions that differ, ranked by whether their modules were imported."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from packaging.utils import canonicalize_name

from tox_broker_audit.diagnosis.hooks import hookimpl
from tox_broker_audit.diagnosis.model import DiagnosisContext, Finding, Fix, Group, Location, Severity
from tox_broker_audit.diff import DistChange
from tox_broker_audit.snapshot.model import Distribution, PackageFiles, Snapshot

from ._common import Facts, facts, finding, rel, side_label, top
from .imports import missing_module_names
from .workers import is_xdist_noise

__all__ = ["broker_audit_rules", "packages_rule"]

#: Seeded by virtualenv/venv/tox, or the installers themselves: expected to differ.
SEED_DISTS = frozenset({"pip", "setuptools", "wheel", "distribute", "uv", "virtualenv"})
#: Distributions that change which broker dramatiq builds by default, or how tests run.
KEY_DISTS = frozenset({"dramatiq", "pika", "redis", "pytest", "pluggy"})


def _plugin_dists(ctx: DiagnosisContext) -> set[str]:
    out: set[str] = set()
    for snap in (ctx.baseline, ctx.target):
        if snap is not None:
            out.update(
                p.distribution for p in snap.pytest.plugins if p.distribution and p.how == "entry-point"
            )
    return out


def _imported(f: Facts, name: str, side: str) -> bool:
    return any(s.side == side and name in s.imported_dists for s in f.sides())


def _module_tokens(dist: Distribution) -> list[str]:
    return [f"module:{t}" for t in dist.top_level]


def _tolerated_by(f: Facts, dist: Distribution) -> list[str]:
    """The modules that imported ``dist`` on the baseline side when every one of them was also
    imported on the target side without it (``try: import hiredis / except ImportError``), and
    the target's collection did not fail for it; else ``[]``."""
    if f.baseline is None:
        return []
    tops = set(dist.top_level)
    importers = {
        e.importer
        for e in f.baseline.snapshot.imports.timeline
        if top(e.module) in tops and e.importer and top(e.importer) not in tops
    }
    target = f.target.snapshot
    missing = missing_module_names(err.message or "" for err in target.pytest.collection_errors)
    failed = bool(tops & missing) or bool(target.pytest.crash)
    if not importers or failed or not importers <= f.target.imported_modules:
        return []
    return sorted(importers)


def _classify(name: str, imported: bool, plugin_dist: bool, project: bool) -> tuple[Severity, Group, float]:
    if name in SEED_DISTS:
        return "info", "expected", 0.0
    if plugin_dist:
        return "info", "other", 20.0  # reported (and fixed) as BA401
    if project:
        return "info", "other", 30.0
    if imported and name in KEY_DISTS:
        return "warning", "cause", 60.0
    if imported:
        return "warning", "cause", 40.0
    return "info", "other", 0.0


@dataclasses.dataclass(frozen=True)
class _DistDiff:
    """One changed distribution and what every kind of finding about it needs."""

    change: DistChange
    dist: Distribution  # the baseline's, else the target's
    project: bool  # it provides one of the application's top-level modules
    plugin_dist: bool  # it provides a pytest plugin through an entry point
    base: str  # how the report names the baseline side
    tgt: str  # and the target side
    required_by: str | None = None  # a reported distribution on the same side that pulled it in
    brings: tuple[DistChange, ...] = ()  # the one-side-only distributions it pulled in
    plugin_dists: frozenset[str] = frozenset()  # distributions with a pytest plugin (BA401's)
    declared: Location | None = None  # the env's own line that installs it (a ``deps`` line)
    declared_at: str = ""  # that line as the report says it (``tox.ini:10``)

    @property
    def brings_code(self) -> tuple[DistChange, ...]:
        """What it brings whose import would make it a cause: no plugin (BA401 reports it)."""
        return tuple(c for c in self.brings if c.name not in self.plugin_dists)

    @property
    def name(self) -> str:
        return self.change.name

    @property
    def tokens(self) -> list[str]:
        return [f"dist:{self.change.name}"]


def packages_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    assert ctx.diff is not None
    f = facts(ctx)
    plugin_dists = _plugin_dists(ctx)
    base, tgt = side_label(ctx, "baseline"), side_label(ctx, "target")
    carriers = {k: v for k, v in _carriers(ctx.diff.distributions).items() if k not in SEED_DISTS}
    brought: dict[str, list[DistChange]] = {}  # {carrier: what it brings, in the diff's order}
    for c in ctx.diff.distributions:
        if c.name in carriers:
            brought.setdefault(carriers[c.name], []).append(c)
    for change in ctx.diff.distributions:
        dist = change.baseline or change.target
        assert dist is not None
        diff = _DistDiff(
            change=change,
            dist=dist,
            project=any(t in f.app_tops for t in dist.top_level),
            plugin_dist=change.name in plugin_dists,
            base=base,
            tgt=tgt,
            required_by=carriers.get(change.name),
            brings=tuple(brought.get(change.name, ())),
            plugin_dists=frozenset(plugin_dists),
            **_declared(ctx, change.name),
        )
        if diff.required_by is not None:
            yield _dependency_of(f, diff)
            continue
        if change.kind == "missing":
            yield _missing_dist(f, diff)
        elif change.kind == "extra":
            yield _extra_dist(f, diff)
        elif change.kind == "version":
            yield _version_changed(f, diff)
        else:  # install-mode
            yield _install_mode_changed(ctx, diff)


def _requires(dist: Distribution | None) -> set[str]:
    return {canonicalize_name(r) for r in dist.requires} if dist is not None else set()


def _carriers(changes: Sequence[DistChange]) -> dict[str, str]:
    """``{name: reported distribution that pulled it in}`` for distributions on one side only.

    A distribution installed on one side only whose presence a reported distribution of that
    side explains (it is in that one's ``Requires-Dist``, directly or through others that are
    themselves only there) is part of that finding: the root of the chain is named.
    """
    by_side: dict[str, dict[str, DistChange]] = {"baseline": {}, "target": {}}
    for c in changes:
        for side in ("baseline", "target"):
            if getattr(c, side) is not None and c.kind != ("extra" if side == "baseline" else "missing"):
                by_side[side][c.name] = c
    # {side: {requirement: the reported distributions requiring it, sorted}}: the first one
    # not yet seen is the parent (one index, not a scan of every distribution per step).
    parents: dict[str, dict[str, list[str]]] = {"baseline": {}, "target": {}}
    for side, reported in by_side.items():
        for n in sorted(reported):
            for req in _requires(getattr(reported[n], side)):
                parents[side].setdefault(req, []).append(n)
    out: dict[str, str] = {}
    for c in changes:
        if c.kind not in ("missing", "extra"):
            continue
        side = "baseline" if c.kind == "missing" else "target"
        reported = by_side[side]
        root, seen = c.name, {c.name}
        while True:
            parent = next((n for n in parents[side].get(root, ()) if n not in seen), None)
            if parent is None:
                break
            seen.add(parent)
            root = parent
            if reported[parent].kind not in ("missing", "extra"):
                break  # a version or install-mode change: its own finding holds the chain
        if root != c.name:
            out[c.name] = root
    return out


def _brought_words(diff: _DistDiff) -> str:
    parts = []
    for c in diff.brings:
        dist = c.baseline or c.target
        assert dist is not None
        parts.append(
            f"{dist.raw_name} {dist.version} (only {diff.base if c.kind == 'missing' else diff.tgt})"
        )
    return f" It brings in {', '.join(parts)}: it requires them." if parts else ""


def _brought_imported(f: Facts, diff: _DistDiff) -> bool:
    return any(
        _imported(f, c.name, "baseline" if c.kind == "missing" else "target") for c in diff.brings_code
    )


def _brought_tokens(diff: _DistDiff) -> list[str]:
    out = []
    for c in diff.brings_code:
        dist = c.baseline or c.target
        assert dist is not None
        out += [f"dist:{c.name}", *_module_tokens(dist)]
    return out


def _dependency_of(f: Facts, diff: _DistDiff) -> Finding:
    """BA201/BA202 (info): a distribution only there because a reported one requires it."""
    dist, name, tokens = diff.dist, diff.name, diff.tokens
    missing = diff.change.kind == "missing"
    where, not_where = (diff.base, diff.tgt) if missing else (diff.tgt, diff.base)
    imported = _imported(f, name, "baseline" if missing else "target")
    return finding(
        "BA201" if missing else "BA202",
        "info",
        f"{dist.raw_name} {dist.version} is installed only {where} (a dependency of {diff.required_by})",
        name,
        f"{dist.raw_name} {dist.version} is installed {where} but not {not_where} because "
        f"{diff.required_by} requires it; "
        + ("its modules were imported there" if imported else "nothing imported it")
        + f". It is part of the {diff.required_by} finding, not a cause of its own.",
        f"nothing to do by itself: it follows {diff.required_by} (see that finding)",
        about=tokens,
        effects_on=tokens,
        group="other",
        score=1.0,
        imported=imported,
        version=dist.version,
        required_by=diff.required_by,
    )


def _missing_dist(f: Facts, diff: _DistDiff) -> Finding:
    """BA201: installed on the baseline side only."""
    fix: str | Fix
    dist, name, tokens = diff.dist, diff.name, diff.tokens
    imported = _imported(f, name, "baseline") or _brought_imported(f, diff)
    sev, group, score = _classify(name, imported, diff.plugin_dist, diff.project)
    tolerated = _tolerated_by(f, dist) if imported and group == "cause" else []
    if tolerated:
        sev, group, score = "info", "other", 2.0
    fix = Fix("add_dep", dist.raw_name)
    return finding(
        "BA201",
        sev,
        f"{dist.raw_name} {dist.version} is installed {diff.base} but not {diff.tgt}"
        + (" (an optional dependency: its importers load without it)" if tolerated else ""),
        name,
        f"{dist.raw_name} {dist.version} is installed {diff.base} and missing {diff.tgt}; "
        + (f"its modules were imported {diff.base}." if imported else f"nothing imported it {diff.base}.")
        + (
            f" {', '.join(tolerated)} imported it {diff.base} and loaded without it {diff.tgt}: "
            "the code tolerates its absence."
            if tolerated
            else ""
        )
        + (" It provides a pytest plugin (see BA401)." if diff.plugin_dist else "")
        + _brought_words(diff),
        fix if name not in SEED_DISTS else "nothing to do: seeded by the venv tool",
        location=None,
        about=tokens,
        effects_on=[*tokens, *_module_tokens(dist), *_brought_tokens(diff)] if imported else tokens,
        group=group,
        score=score,
        imported=imported,
        version=dist.version,
        brings=[d.name for d in diff.brings],
    )


def _extra_dist(f: Facts, diff: _DistDiff) -> Finding:
    """BA202: installed on the target side only."""
    dist, name, tokens = diff.dist, diff.name, diff.tokens
    imported = _imported(f, name, "target") or _brought_imported(f, diff)
    sev, group, score = _classify(name, imported, diff.plugin_dist, diff.project)
    if name == "pika" and group == "other":
        sev, group, score = "warning", "cause", 50.0  # pika makes RabbitMQ dramatiq's default
    if is_xdist_noise(f.target.snapshot, name):  # execnet, for the env's -n (rules/workers.py)
        sev, group, score = "info", "expected", 0.0
    return finding(
        "BA202",
        sev,
        f"{dist.raw_name} {dist.version} is installed only {diff.tgt}",
        name,
        f"{dist.raw_name} {dist.version} is installed {diff.tgt} but not {diff.base}; "
        + ("its modules were imported there." if imported else "nothing imported it.")
        + (" With pika installed, dramatiq's implicit default broker is RabbitMQ." if name == "pika" else "")
        + _brought_words(diff),
        _extra_fix(diff),
        location=diff.declared,
        about=tokens,
        effects_on=[*tokens, *_module_tokens(dist), *_brought_tokens(diff)]
        if imported or name == "pika"
        else tokens,
        group=group,
        score=score,
        imported=imported,
        version=dist.version,
        brings=[d.name for d in diff.brings],
    )


def _declared(ctx: DiagnosisContext, name: str) -> dict[str, Any]:
    """Where the env's own configuration installs ``name`` (``declared``, ``declared_at``), if it does."""
    found = ctx.tox.dependency_lines.get(name) if ctx.tox is not None else None
    if found is None:
        return {}
    shown = rel(ctx, found.path) + (f":{found.line}" if found.line else "")
    return {"declared": found, "declared_at": shown}


def _extra_fix(diff: _DistDiff) -> str:
    """Seeded: nothing; one of the env's own deps: that line; else: find what pulls it in."""
    raw = diff.dist.raw_name
    if diff.name in SEED_DISTS:
        return "nothing to do: seeded by the venv tool"
    if diff.declared is not None:
        return (
            f"{raw} is one of the env's own deps ({diff.declared_at}) but not installed {diff.base}: "
            f"remove it from this env's deps, or install it {diff.base} too (and keep the tests from "
            "depending on whether it is importable)"
        )
    return f"find which of tox's deps pulls in {raw} (e.g. `pip show` / `uv pip tree`) and align the deps"


def _version_changed(f: Facts, diff: _DistDiff) -> Finding:
    """BA203: installed on both sides in different versions."""
    change, dist, name, tokens = diff.change, diff.dist, diff.name, diff.tokens
    assert change.baseline is not None
    assert change.target is not None
    imported = _imported(f, name, "target") or _imported(f, name, "baseline")
    imported = imported or _brought_imported(f, diff)
    sev, group, score = _classify(name, imported, False, diff.project)
    if sev == "warning" and name not in KEY_DISTS:
        sev, score = "info", score - 10
    return finding(
        "BA203",
        sev,
        f"{dist.raw_name} {change.baseline.version} {diff.base} vs {change.target.version} {diff.tgt}",
        name,
        f"{dist.raw_name} is {change.baseline.version} {diff.base} and {change.target.version} {diff.tgt}"
        + ("; its modules were imported." if imported else "; nothing imported it.")
        + _brought_words(diff),
        "nothing to do: seeded by the venv tool"
        if name in SEED_DISTS
        else Fix("pin_dep", dist.raw_name, change.baseline.version),
        about=tokens,
        effects_on=[*tokens, *_brought_tokens(diff)] if imported else tokens,
        group=group,
        score=score,
        brings=[d.name for d in diff.brings],
        baseline=change.baseline.version,
        target=change.target.version,
    )


def _install_mode(d: Distribution) -> str:
    return f"editable from {d.source_path}" if d.editable else f"installed in {d.location}"


def _install_mode_changed(ctx: DiagnosisContext, diff: _DistDiff) -> Finding:
    """BA204: editable on one side, a regular install on the other (an error if the files differ)."""
    fix: str | Fix
    dist, name, tokens, base, tgt = diff.dist, diff.name, diff.tokens, diff.base, diff.tgt
    b, t = diff.change.baseline, diff.change.target
    assert b is not None
    assert t is not None
    package = ctx.tox.package if ctx.tox is not None else None
    content = _content_differences(ctx, dist.top_level)
    modules = _package_modules(ctx, dist.top_level)
    title = (
        f"{dist.raw_name} is {'editable' if b.editable else 'a regular install'} {base} but "
        f"{'editable' if t.editable else 'a regular install'} {tgt}"
    )
    detail = (
        f"{dist.raw_name}: {_install_mode(b)} {base}; {_install_mode(t)} {tgt}. "
        "Its modules resolve to different files"
    )
    if content.missing or content.changed:
        title += ", and " + content.headline(tgt)
        detail += f". {content.sentence(base, tgt)}"
        fix = content.fix(diff.project and b.editable and not t.editable)
        return finding(
            "BA204",
            "error",
            title,
            name,
            detail + ".",
            fix,
            about=tokens,
            effects_on=[*tokens, *_module_tokens(dist), *(f"module:{m}" for m in modules)],
            group="cause",
            score=93.0,
            tox_package=package,
            missing=list(content.missing),
            extra=list(content.extra),
            changed=list(content.changed),
        )
    return finding(
        "BA204",
        "info",
        title,
        name,
        detail + ", which matters when a module is imported under two names or patched by file "
        "(the packages' files themselves are the same on both sides).",
        Fix("editable", value="match")
        if diff.project and b.editable and not t.editable
        else "install it the same way on both sides",
        about=tokens,
        effects_on=[*tokens, *_module_tokens(dist)],
        group="other",
        score=30.0 if diff.project else 10.0,
        tox_package=package,
    )


@dataclasses.dataclass(frozen=True)
class _Content:
    """How a project package's files differ between the two sides (paths as ``pkg/rel``)."""

    missing: tuple[str, ...]  # only in the baseline's copy
    extra: tuple[str, ...]  # only in the target's copy
    changed: tuple[str, ...]  # in both, different bytes

    def headline(self, tgt: str) -> str:
        if self.missing:
            more = f" (+{len(self.missing) - 1} more)" if len(self.missing) > 1 else ""
            return f"the copy {tgt} lacks {self.missing[0]}{more}"
        more = f" (+{len(self.changed) - 1} more)" if len(self.changed) > 1 else ""
        return f"{self.changed[0]}{more} differs {tgt}"

    def sentence(self, base: str, tgt: str) -> str:
        parts = []
        if self.missing:
            parts.append(f"files {base} but not {tgt}: {_few(self.missing)}")
        if self.changed:
            parts.append(f"files whose content differs: {_few(self.changed)}")
        if self.extra:
            parts.append(f"files only {tgt}: {_few(self.extra)}")
        return "; ".join(parts).capitalize()

    def fix(self, editable_locally: bool) -> str | Fix:
        data = [p for p in self.missing if not p.endswith(".py")]
        if data:
            pkg, _, rest = data[0].partition("/")
            pattern = "*" + os.path.splitext(rest)[1] if os.path.splitext(rest)[1] else rest
            return (
                f"ship {data[0]} in the package: declare it as package data (setuptools: "
                f'[tool.setuptools.package-data] {pkg} = ["{pattern}"]; or MANIFEST.in + '
                "include_package_data) — tox installs the built package, not your source tree"
            )
        if self.missing:
            return (
                f"include {self.missing[0]} in the built package "
                "(check packages / py-modules in the build configuration)"
            )
        if editable_locally:
            return Fix("editable", value="rebuild")
        return "reinstall the package on both sides from the same source"


def _few(paths: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" (+{len(paths) - limit} more)" if len(paths) > limit else "")


#: Sources and docs that a build legitimately leaves out or compiles: not a difference.
_BUILD_ONLY = (".c", ".h", ".cpp", ".pyx", ".pxd", ".so", ".pyd", ".md", ".rst")


def _package_files(snapshot: Snapshot | None, name: str) -> PackageFiles | None:
    if snapshot is None:
        return None
    return next((p for p in snapshot.imports.packages if p.name == name), None)


def _content_differences(ctx: DiagnosisContext, tops: Sequence[str]) -> _Content:
    missing: list[str] = []
    extra: list[str] = []
    changed: list[str] = []
    for top_name in tops:
        b, t = _package_files(ctx.baseline, top_name), _package_files(ctx.target, top_name)
        if b is None or t is None or b.truncated or t.truncated:
            continue
        bf = {f.path: f for f in b.files if not f.path.endswith(_BUILD_ONLY)}
        tf = {f.path: f for f in t.files if not f.path.endswith(_BUILD_ONLY)}
        missing += [f"{top_name}/{p}" for p in sorted(bf.keys() - tf.keys())]
        extra += [f"{top_name}/{p}" for p in sorted(tf.keys() - bf.keys())]
        changed += [
            f"{top_name}/{p}"
            for p in sorted(bf.keys() & tf.keys())
            if bf[p].sha256 is not None and tf[p].sha256 is not None and bf[p].sha256 != tf[p].sha256
        ]
    return _Content(tuple(missing), tuple(extra), tuple(changed))


def _package_modules(ctx: DiagnosisContext, tops: Sequence[str]) -> set[str]:
    """Every module of these top-level packages imported on either side."""
    out: set[str] = set()
    for snap in (ctx.baseline, ctx.target):
        if snap is not None:
            out.update(o.module for o in snap.imports.origins if o.module.partition(".")[0] in tops)
    return out


@hookimpl
def broker_audit_rules() -> list[Callable[[DiagnosisContext], Iterable[Finding]]]:
    return [packages_rule]
