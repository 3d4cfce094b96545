"""Shared helpers for rules: derived facts about a snapshot pair, usage classes, wording.

Derived facts are computed once per diagnosis and kept in ``ctx.cache``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from packaging.utils import canonicalize_name

from tox_broker_audit.diagnosis.codes import slug_of
from tox_broker_audit.diagnosis.links import tokens
from tox_broker_audit.diagnosis.model import DiagnosisContext, Finding, Fix, Group, Location, Severity
from tox_broker_audit.diagnosis.wording import is_nox, side_label
from tox_broker_audit.snapshot.anchors import in_project, in_stdlib, is_inside, is_under, project_roots
from tox_broker_audit.snapshot.model import EnvRead, Snapshot

__all__ = [
    "INTERNAL_TOPS",
    "PHASE_WORDS",
    "TESTISH",
    "USE_WEIGHT",
    "Facts",
    "SideFacts",
    "Use",
    "facts",
    "finding",
    "is_expected_env",
    "is_nox",
    "leaves_first",
    "named_in_crash",
    "side_label",
    "source_of",
    "top",
]

#: How a variable/module was used, strongest first.
Use = Literal["project", "hook", "library", "internal", "none"]
USE_WEIGHT: Mapping[str, float] = {
    "project": 100.0,
    "hook": 90.0,
    "library": 40.0,
    "internal": 10.0,
    "none": 0.0,
}
_USE_ORDER = ("project", "hook", "library", "internal", "none")

#: Top-level modules of the test runner and packaging machinery: their reads are weak evidence.
INTERNAL_TOPS = frozenset(
    {
        "site",
        "_pytest",
        "pytest",
        "pluggy",
        "iniconfig",
        "execnet",
        "xdist",
        "platformdirs",
        "_distutils_hack",
        "setuptools",
        "pkg_resources",
        "pip",
        "packaging",
        "_virtualenv",
        "importlib_metadata",
        "colorama",
        "pygments",
        "exceptiongroup",
        "tomli",
        "typing_extensions",
    }
)

_EXPECTED_ENV = re.compile(
    r"^(TOX_.*|__TOX_.*|TOX|VIRTUAL_ENV|VIRTUAL_ENV_PROMPT|_OLD_VIRTUAL_.*|PATH|PYTHONHASHSEED|PIP_.*|PYTHONIOENCODING"
    r"|PS1|_|SHLVL|OLDPWD|PWD)$"
)
TESTISH = re.compile(r"^(conftest|tests?|testing)$|^test_|_test$")


def named_in_crash(snapshot: Snapshot | None, name: str) -> bool:
    """The collection crash of ``snapshot`` names ``name`` as a whole word (``KeyError: 'X'``,
    ``X not found``): that variable's absence is what the crash says it needs."""
    crash = snapshot.pytest.crash if snapshot is not None else None
    return (
        bool(crash)
        and re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", crash or "") is not None
    )


def leaves_first(modules: Iterable[str]) -> list[str]:
    """Modules with the most specific first: ``app.tasks`` before its package ``app``."""
    mods = list(dict.fromkeys(modules))
    return sorted(mods, key=lambda m: any(o.startswith(m + ".") for o in mods))


def top(module: str | None) -> str:
    return (module or "").partition(".")[0]


def is_expected_env(name: str) -> bool:
    """Variables tox itself sets, strips or rebuilds (and shell bookkeeping)."""
    return bool(_EXPECTED_ENV.match(name))


@dataclasses.dataclass(frozen=True)
class SideFacts:
    snapshot: Snapshot
    side: str  # "baseline" | "target"
    env: Mapping[str, Any]
    plugin_tops: frozenset[str]
    conftests: frozenset[str]
    startup_files: frozenset[str]
    imported_dists: frozenset[str]
    imported_modules: frozenset[str]
    runtime_set: frozenset[str]  # read as present by code although not in the start environment


@dataclasses.dataclass(frozen=True)
class Facts:
    project_roots: tuple[str, ...]
    app_tops: frozenset[str]
    baseline: SideFacts | None
    target: SideFacts

    def sides(self) -> list[SideFacts]:
        return [s for s in (self.baseline, self.target) if s is not None]

    def is_app_module(self, module: str | None) -> bool:
        return bool(module) and top(module) in self.app_tops

    def in_project(self, path: str | None) -> bool:
        """The user's own file under either side's project (:func:`..snapshot.anchors.in_project`)."""
        return in_project(path, self.project_roots)

    def read_use(self, read: EnvRead, side: SideFacts) -> Use:
        """How strongly a read of the environment counts as evidence."""
        file, module = read.file or "", read.module or ""
        if file.endswith(".pth"):
            pth = next((p for p in side.snapshot.startup.pth_files if p.path == file), None)
            return "internal" if pth is not None and pth.known else "hook"
        if file in side.startup_files or module in ("sitecustomize", "usercustomize"):
            return "hook"
        if file in side.conftests or module == "conftest" or module.endswith(".conftest"):
            return "hook"
        if top(module) in INTERNAL_TOPS or file.startswith("<frozen") or not file:
            return "internal"
        if self.is_app_module(module) or self.in_project(file):
            return "project"
        if top(module) in side.plugin_tops:
            return "hook"
        if in_stdlib(file, side.snapshot):
            return "internal"
        return "library"

    def reads_of(self, name: str) -> list[tuple[SideFacts, EnvRead, Use]]:
        out = []
        for side in self.sides():
            for read in side.snapshot.environ.reads:
                if read.name == name:
                    out.append((side, read, self.read_use(read, side)))
        return out

    def use_of_env(self, name: str) -> Use:
        uses = [use for _, _, use in self.reads_of(name)]
        return min(uses, key=_USE_ORDER.index) if uses else "none"


def _side_facts(snapshot: Snapshot, side: str) -> SideFacts:
    plugin_tops = frozenset(
        top(p.module)
        for p in snapshot.pytest.plugins
        if p.how not in ("builtin", "conftest") and p.module and top(p.module) not in INTERNAL_TOPS
    )
    startup_files = {p.path for p in snapshot.startup.pth_files}
    for custom in (snapshot.startup.sitecustomize, snapshot.startup.usercustomize):
        if custom is not None and custom.path:
            startup_files.add(custom.path)
    modules = {o.module for o in snapshot.imports.origins} | {e.module for e in snapshot.imports.timeline}
    imported_dists = _imported_dists(snapshot, modules)
    env = {v.name: v for v in snapshot.environ.variables}
    runtime = set()
    for read in snapshot.environ.reads:
        if read.present and read.name not in env and read.name != "*" and not read.name.startswith("PYTEST_"):
            runtime.add(read.name)
    return SideFacts(
        snapshot=snapshot,
        side=side,
        env=env,
        plugin_tops=plugin_tops,
        conftests=frozenset(snapshot.pytest.conftests),
        startup_files=frozenset(startup_files),
        imported_dists=frozenset(imported_dists),
        imported_modules=frozenset(modules),
        runtime_set=frozenset(runtime),
    )


def _dist_key(name: str) -> str:
    return str(canonicalize_name(name))


def _imported_dists(snapshot: Snapshot, modules: set[str]) -> set[str]:
    """The distributions whose code the run imported.

    A namespace package (a module without a file: what a setuptools ``*-nspkg.pth`` line or
    a native namespace creates) holds no code of any distribution, so it is no evidence. A
    top-level name several distributions share (``sphinxcontrib``, ``zope``) is attributed by
    the submodule: ``zope.interface.x`` to ``zope-interface``, to all of them if none matches.
    """
    by_top: dict[str, list[str]] = {}
    for dist in snapshot.distributions:
        for t in dist.top_level:
            if dist.name not in by_top.setdefault(t, []):
                by_top[t].append(dist.name)
    namespaces = {o.module for o in snapshot.imports.origins if o.file is None}
    out = {
        o.distribution
        for o in snapshot.imports.origins
        if o.distribution and o.file is not None and len(by_top.get(top(o.module), [])) < 2
    }
    for module in modules - namespaces:
        owners = by_top.get(top(module), [])
        if len(owners) > 1:
            key = _dist_key(module)
            named = [d for d in owners if key == d or key.startswith(d + "-")]
            if not named and "." not in module:
                continue  # the shared namespace itself, imported as a regular package
            owners = named or owners
        out.update(owners)
    return out


def _project_roots(snapshots: Iterable[Snapshot]) -> tuple[str, ...]:
    """Both sides' project roots (each side's own: a reference may come from another checkout)."""
    return tuple(dict.fromkeys(root for snap in snapshots for root in project_roots(snap)))


def _app_tops(snapshots: list[Snapshot], roots: tuple[str, ...]) -> frozenset[str]:
    tops: set[str] = set()
    project_dists: set[str] = set()
    for snap in snapshots:
        for origin in snap.imports.origins:
            if origin.in_project and not TESTISH.search(top(origin.module)):
                tops.add(top(origin.module))
        for dist in snap.distributions:
            src = os.path.normpath(dist.source_path) if dist.source_path else None
            if dist.editable and src and any(is_under(src, r) or is_under(r, src) for r in roots):
                project_dists.add(dist.name)
    for snap in snapshots:
        for dist in snap.distributions:
            if dist.name in project_dists:
                tops.update(
                    t for t in dist.top_level if not TESTISH.search(t) and not t.startswith("__editable__")
                )
    return frozenset(tops - INTERNAL_TOPS)


def facts(ctx: DiagnosisContext) -> Facts:
    """Derived facts of the pair (computed once per diagnosis)."""
    cached = ctx.cache.get("facts")
    if isinstance(cached, Facts):
        return cached
    snaps = [s for s in (ctx.baseline, ctx.target) if s is not None]
    roots = _project_roots(snaps)
    app = _app_tops(snaps, roots)
    result = Facts(
        project_roots=roots,
        app_tops=app,
        baseline=_side_facts(ctx.baseline, "baseline") if ctx.baseline is not None else None,
        target=_side_facts(ctx.target, "target"),
    )
    ctx.cache["facts"] = result
    return result


#: How a phase is said in a sentence ("read by app/broker.py:7 during collection").
PHASE_WORDS = {
    "startup": "at interpreter start-up",
    "pytest-import": "while pytest was imported",
    "plugin-load": "while pytest plugins loaded",
    "conftest": "while conftest.py files loaded",
    "configure": "during pytest_configure",
    "collection": "during collection",
}


def rel(ctx: DiagnosisContext, path: str | None) -> str:
    """A path relative to the project root when inside it (shorter report lines)."""
    if not path:
        return "?"
    f = facts(ctx)
    norm = source_of(ctx, os.path.normpath(path))
    for root in f.project_roots:
        if is_inside(norm, root):
            return os.path.relpath(norm, root)
    return path


def source_of(ctx: DiagnosisContext, path: str) -> str:
    """The project source file an installed copy came from, when the snapshots tell.

    Under tox the app usually runs from a wheel in site-packages; the user edits the source
    tree. A file of an imported project package maps to the same relative file of that
    package on the baseline side, if the baseline's copy (editable: the source) has it.
    """
    if ctx.baseline is None:
        return path
    sources = {p.name: p for p in ctx.baseline.imports.packages}
    for package in ctx.target.imports.packages:
        root = os.path.normpath(package.root)
        source = sources.get(package.name)
        if source is None or path == root or not is_under(path, root):
            continue
        relative = os.path.relpath(path, root).replace(os.sep, "/")
        if os.path.normpath(source.root) != root and any(f.path == relative for f in source.files):
            return os.path.join(os.path.normpath(source.root), *relative.split("/"))
    return path


def finding(  # noqa: PLR0917 - mirrors Finding's positional fields
    code: str,
    severity: Severity,
    title: str,
    subject: str,
    detail: str,
    fix: str | Fix,
    *,
    location: Location | None = None,
    about: Iterable[str] = (),
    effects_on: Iterable[str] = (),
    group: Group = "other",
    score: float = 0.0,
    **evidence: Any,
) -> Finding:
    """Build a finding with the code's slug and the linking tokens in ``about``/``effects_on``.

    ``fix`` is either the fix in words or a structured :class:`Fix` that the front door
    words (``pass_env = X`` at the tox.ini line, ``session.env[...]`` for nox).
    """
    return Finding(
        code=code,
        slug=slug_of(code),
        severity=severity,
        title=title,
        subject=subject,
        detail=detail,
        fix=fix if isinstance(fix, str) else "",
        change=fix if isinstance(fix, Fix) else None,
        location=location,
        evidence=dict(evidence),
        group=group,
        score=score,
        about=tokens(about),
        effects_on=tokens(effects_on),
    )
