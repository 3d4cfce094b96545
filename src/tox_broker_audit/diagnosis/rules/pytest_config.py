"""BA401–BA406: pytest plugins, their order, configuration, conftests, unknown ini keys, early imports."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from tox_broker_audit.diagnosis.hooks import hookimpl
from tox_broker_audit.diagnosis.model import DiagnosisContext, Finding, Fix, Group, Location, Severity
from tox_broker_audit.diff import PluginChange
from tox_broker_audit.snapshot.anchors import is_under
from tox_broker_audit.snapshot.model import ImportEvent, PytestPlugin, Snapshot

from ._common import INTERNAL_TOPS, Facts, facts, finding, leaves_first, rel, side_label, top
from .startup import runtime_env_tokens

__all__ = [
    "KNOWN_INI_PLUGINS",
    "broker_audit_rules",
    "config_rule",
    "conftest_rule",
    "early_import_rule",
    "plugins_rule",
    "unknown_ini_rule",
]

#: ini keys → the plugin distribution that defines them (for "install X" fixes).
KNOWN_INI_PLUGINS = {
    "env": "pytest-env",
    "env_files": "pytest-dotenv",
    "env_override_existing_values": "pytest-dotenv",
    "DJANGO_SETTINGS_MODULE": "pytest-django",
    "asyncio_mode": "pytest-asyncio",
    "asyncio_default_fixture_loop_scope": "pytest-asyncio",
    "timeout": "pytest-timeout",
    "mock_use_standalone_module": "pytest-mock",
    "dramatiq_broker": "pytest-dramatiq",
    "flask_app": "pytest-flask",
    "celery_broker": "pytest-celery",
}

_EARLY_PHASES = ("startup", "pytest-import", "plugin-load")


def _other(side: str) -> str:
    return "target" if side == "baseline" else "baseline"


def _snap(ctx: DiagnosisContext, side: str) -> Snapshot:
    snap = ctx.baseline if side == "baseline" else ctx.target
    assert snap is not None
    return snap


def early_imports(f: Facts, snapshot: Snapshot) -> list[ImportEvent]:
    """App-module imports that happened before conftests loaded, first entry into the app only."""
    out = []
    for event in snapshot.imports.timeline:
        if event.phase not in _EARLY_PHASES or not f.is_app_module(event.module):
            continue
        if event.importer and f.is_app_module(event.importer):
            continue  # an app module importing another: not the entry point
        out.append(event)
    return out


def _by_plugin(event: ImportEvent, plugin: PytestPlugin) -> bool:
    """The plugin's own code imported the module (``import app.tasks`` at its top level)."""
    ptop = top(plugin.module)
    return bool(
        (plugin.file and event.importer_file == plugin.file) or (ptop and top(event.importer) == ptop)
    )


def _on_behalf_of(event: ImportEvent, plugin: PytestPlugin) -> bool:
    """A library the plugin called imported the module (pytest-django's ``django.setup()`` runs
    the apps' ``ready()``): the plugin is on the call stack, its own code is not the importer."""
    return bool(plugin.module) and plugin.module in event.via and not _by_plugin(event, plugin)


def _plugin_app_imports(
    f: Facts, snapshot: Snapshot, plugin: PytestPlugin, made_by: Callable[[ImportEvent, PytestPlugin], bool]
) -> list[str]:
    mods = [
        event.module
        for event in early_imports(f, snapshot)
        if event.phase == "plugin-load" and made_by(event, plugin)
    ]
    return leaves_first(mods)


def _lone_plugins(ctx: DiagnosisContext, side: str) -> list[PytestPlugin]:
    """The non-builtin pytest plugins active on ``side`` only."""
    assert ctx.diff is not None
    kind = "missing" if side == "baseline" else "extra"
    out = []
    for change in ctx.diff.plugins:
        plugin = change.baseline if side == "baseline" else change.target
        if change.kind == kind and plugin is not None and plugin.how != "builtin":
            out.append(plugin)
    return out


def _plugin_subject(p: PytestPlugin) -> str:
    return p.distribution or p.name


@dataclasses.dataclass(frozen=True)
class _LonePlugin:
    """A pytest plugin active on one side only (BA401), and what loading it did there."""

    plugin: PytestPlugin
    side: str  # where it is active
    builtin: bool  # one of pytest's own
    app: list[str]  # application modules it imported at plugin-load time, leaves first
    app_via: list[str]  # ... that a library it called imported (django.setup() → the apps)
    ini_keys: Sequence[str]  # ini options pytest ignores without it
    #: Its distribution is installed on the other side too: it is not loaded there for another
    #: reason (``-p`` in an ini file that side does not read), so installing it is no fix.
    installed_on_both: bool = False

    @property
    def dist(self) -> str | None:
        return self.plugin.distribution


def _installed(snapshot: Snapshot, plugin: PytestPlugin) -> bool:
    """``plugin``'s distribution is installed in ``snapshot``."""
    from packaging.utils import canonicalize_name

    if not plugin.distribution:
        return False
    wanted = canonicalize_name(plugin.distribution)
    return any(canonicalize_name(d.name) == wanted for d in snapshot.distributions)


def plugins_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA401 (plugin set differs) and BA402 (load order differs)."""
    assert ctx.diff is not None
    f = facts(ctx)
    for change in ctx.diff.plugins:
        plugin = change.baseline if change.kind == "missing" else change.target
        assert plugin is not None
        if change.kind == "changed":
            yield _plugin_source_changed(ctx, change, plugin)
            continue
        side = "baseline" if change.kind == "missing" else "target"
        builtin = plugin.how == "builtin" or top(plugin.module) in ("_pytest", "pytest")
        lone = _LonePlugin(
            plugin=plugin,
            side=side,
            builtin=builtin,
            app=_plugin_app_imports(f, _snap(ctx, side), plugin, _by_plugin),
            app_via=_plugin_app_imports(f, _snap(ctx, side), plugin, _on_behalf_of),
            ini_keys=ctx.diff.unknown_ini_extra if change.kind == "missing" and not builtin else (),
            installed_on_both=_installed(_snap(ctx, "target" if side == "baseline" else "baseline"), plugin),
        )
        yield _lone_plugin_finding(ctx, f, lone)
    order = ctx.diff.plugin_order
    if order is not None:
        yield finding(
            "BA402",
            "info",
            "pytest plugins load in a different order",
            "plugin order",
            f"{side_label(ctx, 'baseline')}: {', '.join(order.baseline)}; "
            f"{side_label(ctx, 'target')}: {', '.join(order.target)}.",
            "only matters when two plugins change the same thing; pin the order with -p in addopts if so",
            about=["pytest:plugin_order"],
            group="other",
            score=3.0,
        )


def _plugin_source_changed(ctx: DiagnosisContext, change: PluginChange, plugin: PytestPlugin) -> Finding:
    """BA401 (info): the same plugin name comes from another module or distribution on each side."""
    assert change.baseline is not None
    assert change.target is not None
    b, t = change.baseline, change.target
    return finding(
        "BA401",
        "info",
        f"pytest plugin {plugin.name} comes from {b.distribution or b.module} "
        f"{side_label(ctx, 'baseline')} "
        f"but {t.distribution or t.module} {side_label(ctx, 'target')}",
        _plugin_subject(plugin),
        f"{plugin.name}: {b.how} {b.module} ({b.distribution}) vs {t.how} {t.module} ({t.distribution}).",
        "install the same plugin distribution on both sides",
        about=[f"plugin:{plugin.name}"],
        group="other",
        score=5.0,
    )


def _lone_plugin_finding(ctx: DiagnosisContext, f: Facts, lone: _LonePlugin) -> Finding:
    """BA401: the plugin is loaded on one side only."""
    plugin, app, dist = lone.plugin, lone.app, lone.dist
    title, detail = _lone_plugin_words(ctx, lone)
    fix, location = _lone_plugin_fix(lone)
    severity, group, score = _lone_plugin_rank(lone)
    return finding(
        "BA401",
        severity,
        title,
        _plugin_subject(plugin),
        detail,
        fix,
        location=location,
        about=[f"plugin:{plugin.name}"] + ([f"dist:{dist}"] if dist else []),
        effects_on=_lone_plugin_effects(ctx, f, lone),
        group=group,
        score=score,
        side=lone.side,
        plugin={
            "name": plugin.name,
            "module": plugin.module,
            "file": plugin.file,
            "distribution": dist,
            "how": plugin.how,
        },
        imported_app_modules=app,
    )


def _lone_plugin_effects(ctx: DiagnosisContext, f: Facts, lone: _LonePlugin) -> list[str]:
    """What loading the plugin changed on its side only: the app modules it imported, its own code,
    the ini options only it understands and the variables it set at run time."""
    plugin = lone.plugin
    effects = [f"module:{m}" for m in (*lone.app, *lone.app_via)]
    if lone.builtin:
        return effects
    if plugin.module:
        # What the plugin's own code did (e.g. set a StubBroker) exists on one side only.
        effects += [f"module:{plugin.module}"] + ([f"file:{plugin.file}"] if plugin.file else [])
        # ... and the app modules it imported (and may have changed, e.g. settings.BROKER = "stub").
        effects += [
            f"module:{e.module}"
            for e in _snap(ctx, lone.side).imports.timeline
            if f.is_app_module(e.module)
            and (e.importer == plugin.module or (plugin.file and e.importer_file == plugin.file))
        ]
    effects += [f"ini:{k}" for k in lone.ini_keys] + runtime_env_tokens(
        f, lone.side, files=[plugin.file], modules=[top(plugin.module)] if plugin.module else []
    )
    return effects


def _lone_plugin_rank(lone: _LonePlugin) -> tuple[Severity, Group, float]:
    if lone.builtin:
        return "info", "other", 2.0
    if lone.app or lone.app_via:
        return "error", "cause", 94.0
    if top(lone.plugin.module) in INTERNAL_TOPS:
        return "info", "other", 15.0
    return "warning", "cause", 55.0 + (20.0 if lone.ini_keys else 0.0)


def _lone_plugin_words(ctx: DiagnosisContext, lone: _LonePlugin) -> tuple[str, str]:
    """(title, detail): where it is active, how it was loaded, what it imported, what it configures."""
    plugin, app, ini_keys = lone.plugin, lone.app, lone.ini_keys
    where, not_where = side_label(ctx, lone.side), side_label(ctx, _other(lone.side))
    how = {
        "entry-point": f"entry point of {lone.dist}",
        "-p": "-p option",
        "PYTEST_PLUGINS": "PYTEST_PLUGINS",
    }.get(plugin.how, plugin.how)
    title = f"pytest plugin {_plugin_subject(plugin)} is loaded only {where}"
    if app:
        title += f" and imports {app[0]} at plugin-load time"
    elif lone.app_via:
        title += f" and, through the libraries it sets up, imports {lone.app_via[0]} at plugin-load time"
    detail = f"The plugin {plugin.name} ({plugin.module}, via {how}) is active {where}, not {not_where}."
    if app:
        detail += (
            f" Loading it imported {', '.join(app)} before any conftest ran, so @dramatiq.actor "
            f"bound those "
            "actors to whatever broker existed then (the implicit default), not to the tests' StubBroker."
        )
    elif lone.app_via:
        detail += (
            f" While it loaded, the libraries it set up imported {', '.join(lone.app_via)} (and ran "
            f"what they do at import or ready() time, such as creating the broker) {where} only."
        )
    if ini_keys:
        detail += f" Without it, pytest ignores the ini option(s) {', '.join(ini_keys)} {not_where}."
    return title, detail


def _lone_plugin_fix(lone: _LonePlugin) -> tuple[str | Fix, Location | None]:
    """Keep the app import out of the plugin's top level, or load the plugin on both sides or neither."""
    fix: str | Fix
    plugin, app, dist, side = lone.plugin, lone.app, lone.dist, lone.side
    location: Location | None = None
    if app:
        fix = (
            f"move the import of {app[0]} out of the plugin's top level (import it inside the "
            f"hook or fixture "
            f"that needs it){'; or drop ' + dist + ' from deps' if dist and side == 'target' else ''}"
        )
        location = Location(plugin.file) if plugin.file else None
    elif side == "baseline" and dist and not lone.installed_on_both:
        fix, location = Fix("add_dep", dist), None
    elif side == "baseline":
        fix = f"load {plugin.name} in both runs (same -p / PYTEST_PLUGINS / addopts)"
    elif dist:
        fix = f"remove {dist} from the env's deps, or disable it with `-p no:{plugin.name}` in addopts"
    else:
        fix = f"disable it with `-p no:{plugin.name}`"
    if lone.builtin:
        fix = "nothing to do: the pytest versions differ (see BA203)"
    return fix, location


_CONFIG_EFFECTS: dict[str, tuple[str, ...]] = {
    "inifile": (
        "addopts",
        "import_mode",
        "testpaths",
        "ini_pythonpath",
        "rootdir",
        "conftests",
        "unknown_ini",
        "syspath",
    ),
    "rootdir": ("conftests", "syspath"),
    "testpaths": ("conftests",),
    "import_mode": ("syspath",),
    "ini_pythonpath": ("syspath",),
    "addopts": ("syspath",),
}


def _dash_p(opts: Sequence[str]) -> set[str]:
    out: set[str] = set()
    it = iter(opts)
    for opt in it:
        if opt == "-p":
            out.add(next(it, ""))
        elif opt.startswith("-p") and len(opt) > 2:
            out.add(opt[2:])
    return out - {""}


def _show(value: Any, ctx: DiagnosisContext | None = None) -> str:
    if value is None:
        return "none"
    if ctx is not None and isinstance(value, str) and value.startswith("/"):
        return rel(ctx, value)
    if isinstance(value, tuple):
        return " ".join(value) if value else "(empty)"
    return str(value)


def config_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA403: rootdir, inifile, addopts, import mode, testpaths, ini pythonpath differ."""
    assert ctx.diff is not None
    base, tgt = side_label(ctx, "baseline"), side_label(ctx, "target")
    for change in ctx.diff.pytest_config:
        field = change.field
        if field == "invocation":
            continue  # reported through its effect on sys.path (BA305)
        effects = [f"pytest:{e}" for e in _CONFIG_EFFECTS.get(field, ())]
        if field == "inifile":
            effects += [f"ini:{k}" for k in (*ctx.diff.unknown_ini_extra, *ctx.diff.unknown_ini_missing)]
        if field == "addopts":
            changed_p = _dash_p(change.baseline) ^ _dash_p(change.target)
            effects += [f"plugin:{p[3:] if p.startswith('no:') else p}" for p in changed_p]
        if field == "available":
            yield finding(
                "BA403",
                "warning",
                f"pytest is importable {base if change.baseline else tgt} only",
                "pytest",
                "pytest could not be imported on one side, so its configuration cannot be compared.",
                Fix("add_dep", "pytest"),
                about=["pytest:available"],
                group="cause",
                score=50.0,
            )
            continue
        severity: Severity = "info" if field == "testpaths" else "warning"
        loc = None
        if field == "inifile" and isinstance(change.target, str) and not change.target.startswith("<"):
            loc = Location(change.target)
        yield finding(
            "BA403",
            severity,
            f"pytest {field} differs: {_show(change.baseline, ctx)} {base}, {_show(change.target, ctx)} {tgt}",  # noqa: E501
            field,
            f"pytest's {field} is {_show(change.baseline)} {base} but {_show(change.target)} {tgt}."
            + (
                " A different ini file means different addopts, plugins, pythonpath and ini options."
                if field == "inifile"
                else ""
            ),
            "run pytest from the same directory with the same config file in both places "
            "(tox: change_dir / `-c FILE` in commands, or move the settings into the one ini file both find)"
            if field in ("inifile", "rootdir")
            else f"use the same {field} in both runs (the ini file or PYTEST_ADDOPTS differ)",
            location=loc,
            about=[f"pytest:{field}"],
            effects_on=effects,
            group="cause" if severity == "warning" else "other",
            score={"inifile": 75.0, "rootdir": 60.0, "addopts": 58.0}.get(field, 40.0),
            field=field,
            baseline=change.baseline,
            target=change.target,
        )


def conftest_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA404: conftest files loaded on one side only."""
    assert ctx.diff is not None
    for side, files in (("baseline", ctx.diff.conftests_missing), ("target", ctx.diff.conftests_extra)):
        for path in files:
            yield finding(
                "BA404",
                "warning",
                f"{rel(ctx, path)} is loaded only {side_label(ctx, side)}",
                rel(ctx, path),
                f"The conftest {path} is loaded {side_label(ctx, side)} but not "
                f"{side_label(ctx, _other(side))}; "
                "its fixtures and hooks (e.g. the one that sets the StubBroker) only apply there.",
                _conftest_fix(ctx, path),
                location=Location(path),
                about=[f"file:{path}", "pytest:conftests"],
                effects_on=[f"file:{path}"],
                group="cause",
                score=50.0,
                side=side,
            )


def _conftest_fix(ctx: DiagnosisContext, path: str) -> str:
    """The fix for a conftest one side loads: when it lies outside what the env selects (you
    run the whole suite, the env a part), the set-up it does for other tests belongs in a
    conftest above both; else the two runs should collect from the same place."""
    selected = [a for a in _selected_paths(ctx.target) if os.path.isabs(a)]
    folder = os.path.dirname(path)
    if selected and not any(is_under(path, a) or is_under(a, folder) for a in selected):
        shared = rel(ctx, os.path.join(os.path.dirname(folder), "conftest.py"))
        return (
            f"move the set-up in {rel(ctx, path)} that other tests need into {shared}"
            " (a conftest above both), or run the same tests under tox as locally (tox: commands)"
        )
    return "make both runs collect from the same rootdir/testpaths (tox: change_dir, commands args)"


def _selected_paths(snapshot: Snapshot) -> tuple[str, ...]:
    from tox_broker_audit._command import selection_args

    return tuple(a.split("::", 1)[0] for a in selection_args(snapshot.pytest.args, snapshot.meta.cwd))


def unknown_ini_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA405: an ini option is unknown on one side (the plugin defining it is missing)."""
    fix: str | Fix
    assert ctx.diff is not None
    for side, keys in (("target", ctx.diff.unknown_ini_extra), ("baseline", ctx.diff.unknown_ini_missing)):
        for key in keys:
            plugin = KNOWN_INI_PLUGINS.get(key)
            if plugin:
                fix, loc = Fix("add_dep", plugin), None
            else:
                fix, loc = "install the plugin that defines this option in both environments", None
            yield finding(
                "BA405",
                "warning" if side == "target" else "info",
                f"ini option `{key}` is unknown {side_label(ctx, side)}"
                + (f" ({plugin} is not installed there)" if plugin else ""),
                key,
                f"pytest warns about and then ignores `{key}` {side_label(ctx, side)}: the plugin "
                f"that defines it "
                f"is not loaded there{' (' + plugin + ')' if plugin else ''}. Settings in that "
                f"block (e.g. `env =`) "
                "silently do nothing.",
                fix,
                location=loc,
                about=[f"ini:{key}", "pytest:unknown_ini"],
                group="cause" if side == "target" else "other",
                score=60.0,
                side=side,
                plugin=plugin,
            )


def early_import_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA406: an app module imported at start-up or plugin-load time on one side only."""
    assert ctx.baseline is not None
    f = facts(ctx)
    b_events = early_imports(f, ctx.baseline)
    t_events = early_imports(f, ctx.target)
    b_keys = {(e.module, e.phase) for e in b_events}
    t_keys = {(e.module, e.phase) for e in t_events}
    for side, events, other_keys in (("target", t_events, b_keys), ("baseline", b_events, t_keys)):
        lone = _lone_plugins(ctx, side)
        by_importer: dict[tuple[str | None, str], list[ImportEvent]] = {}
        for event in events:
            if any(_on_behalf_of(event, p) for p in lone):
                continue  # the plugin's finding (BA401) names it, with the fix that helps
            if (event.module, event.phase) not in other_keys:
                by_importer.setdefault((event.importer_file or event.importer, event.phase), []).append(event)
        for (importer, phase), group_events in by_importer.items():
            mods = leaves_first(e.module for e in group_events)
            first = group_events[0]
            when = "at interpreter start-up" if phase == "startup" else "while pytest loaded its plugins"
            if first.importer_file and not f.in_project(first.importer_file):
                yield _library_early_import(ctx, side, first, mods, when)
                continue
            where = rel(ctx, first.importer_file) + (f":{first.importer_line}" if first.importer_line else "")
            fix = (
                f"move the import out of the top level of {where.split(':')[0]} (import lazily inside the "
                "hook/function), or set the broker before it (e.g. in the module that defines the actors)"
            )
            location = Location(first.importer_file, first.importer_line) if first.importer_file else None
            yield _early_import(
                side,
                first,
                mods,
                how=f"{when} {side_label(ctx, side)} (by {where})",
                fix=fix,
                location=location,
                score=80.0,
                importer=importer,
            )


def _early_import(
    side: str,
    first: ImportEvent,
    mods: Sequence[str],
    *,
    how: str,
    fix: str,
    location: Location | None = None,
    score: float,
    **evidence: Any,
) -> Finding:
    """BA406: ``mods`` imported before any conftest ran, ``how`` says when, where and by whom."""
    return finding(
        "BA406",
        "error" if side == "target" else "warning",
        f"{mods[0]} is imported {how}",
        mods[0],
        f"{', '.join(mods)} {'was' if len(mods) == 1 else 'were'} imported {how}, before any conftest "
        "could set a StubBroker. Every @dramatiq.actor in them called get_broker() then and stays "
        "bound to that broker; a later set_broker() does not rebind them.",
        fix,
        location=location,
        about=[f"module:{m}" for m in mods],
        effects_on=[f"module:{m}" for m in mods],
        group="cause",
        score=score,
        side=side,
        phase=first.phase,
        modules=list(mods),
        **evidence,
    )


def _library_early_import(
    ctx: DiagnosisContext, side: str, first: ImportEvent, mods: Sequence[str], when: str
) -> Finding:
    """BA406 for an app import a library made (Django importing the apps): named by the plugin that
    called it, with a fix in the user's own code, never inside site-packages."""
    plugins = {p.module for p in _snap(ctx, side).pytest.plugins if p.module}
    plugin = next((m for m in first.via if m in plugins), None)
    by = f"{top(first.importer)}" + (f", called by the pytest plugin {plugin}" if plugin else "")
    fix = (
        "choose the broker before that import, in your own code: in the settings the library reads "
        "(e.g. django_dramatiq's DRAMATIQ_BROKER) or at the top of the module that defines the actors"
    )
    how = f"{when} {side_label(ctx, side)} (by {by})"
    return _early_import(
        side, first, mods, how=how, fix=fix, score=70.0, importer=first.importer, plugin=plugin
    )


@hookimpl
def broker_audit_rules() -> list[Callable[[DiagnosisContext], Iterable[Finding]]]:
    return [plugins_rule, config_rule, conftest_rule, unknown_ini_rule, early_import_rule]
