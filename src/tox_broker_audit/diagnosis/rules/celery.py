"""BA611-BA614: what Celery did with the tests' task calls on each side, and why.

These rules read the snapshots' ``brokers.celery`` sections (``probe/_tba_celery.py``): the
apps, each app's effective ``broker_url``/``result_backend``/eager settings with where each
value came from, and the ``delay()``/``apply_async()`` calls the tests made (only in the
test oracle's runs, docs/findings.md). All four compare two sides: the same fact on both is
never a cause.

- BA611: a task call went to (or failed on) a real broker or result backend under tox where
  the same task ran eagerly or in memory locally.
- BA612: an app's broker, result backend or eagerness differs, with who set it on each side.
- BA613: an eager call still contacted the result backend (it stores eager results, or a
  canvas/``AsyncResult`` asked it).
- BA614: the project's app was never created on one side, so shared tasks bound to Celery's
  fallback ``default`` app (its default broker is ``amqp://guest@localhost:5672//``).

Causal tokens: BA612 is *about* where its values came from (``env:NAME`` and the modules that
read that variable, the configuration module) and has effects on ``celery-app:ID``; BA614 is
about the app's module and the module that imported it on the side that had it; BA611/BA613
are about ``celery-app:ID``, ``celery-task:NAME`` and the endpoint (``target:host:port``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from tox_broker_audit.diagnosis.hooks import hookimpl, rule
from tox_broker_audit.diagnosis.model import DiagnosisContext, Finding, Location
from tox_broker_audit.probe._tba_urls import parse_url_target
from tox_broker_audit.snapshot.model import CeleryApp, CeleryCall, CelerySection, CelerySetting, Snapshot

from ._common import facts, finding, rel, side_label

__all__ = ["broker_audit_rules", "celery_call_rule", "celery_default_app_rule", "celery_setting_rule"]

#: Celery's broker when ``broker_url`` is unset (kombu's pyamqp transport defaults).
DEFAULT_BROKER = "amqp://guest@localhost:5672//"
_IN_PROCESS = ("memory", "cache+memory", "disabled", "rpc")
#: The settings BA612 compares, and how a reader calls each.
_COMPARED = {
    "broker_url": "the broker",
    "result_backend": "the result backend",
    "task_always_eager": "task_always_eager",
    "task_store_eager_result": "task_store_eager_result",
}


def _celery(snapshot: Snapshot | None) -> CelerySection:
    if snapshot is None:
        return CelerySection()
    return snapshot.brokers.celery


def _apps(section: CelerySection) -> dict[str, CeleryApp]:
    return {app.id: app for app in section.apps}


def _setting(app: CeleryApp | None, name: str) -> CelerySetting | None:
    if app is None:
        return None
    return next((s for s in app.settings if s.name == name), None)


def is_real_url(url: str | None) -> bool:
    """A broker/backend URL that leaves the process (``memory://``, ``cache+memory://`` do not)."""
    if not url:
        return False
    scheme, _target = parse_url_target(url)
    return scheme is not None and scheme not in _IN_PROCESS and not scheme.startswith("cache")


def _shown(name: str, value: object) -> str:
    if name == "broker_url" and not value:
        return f"Celery's default {DEFAULT_BROKER}"
    if name == "result_backend" and not value:
        return "no result backend"
    return str(value)


#: Where a setting's value came from, in words (``{detail}``: the variable or the config key).
_SOURCE_WORDS = {
    "env": "from the environment variable {detail}",
    "argument": "given to Celery()",
    "code": "set on app.conf in code",
    "config": "from {detail}",
    "defaults": "from defaults added with app.add_defaults() (Celery's TestApp)",
    "default": "Celery's default",
}


def said_source(setting: CelerySetting) -> str:
    """Where a setting's value came from, in words."""
    words = _SOURCE_WORDS.get(setting.source, "from an unknown source")
    return words.format(detail=setting.detail)


def _readers(snapshot: Snapshot, name: str) -> list[str]:
    return sorted({r.module for r in snapshot.environ.reads if r.name == name and r.module})


def _source_tokens(snapshot: Snapshot, app: CeleryApp, setting: CelerySetting | None) -> list[str]:
    """What explains a setting's value: the variable and who read it, or its config module."""
    tokens: list[str] = []
    if setting is not None and setting.source == "env" and setting.detail:
        tokens += [f"env:{setting.detail}", *(f"module:{m}" for m in _readers(snapshot, setting.detail))]
    source = app.config_source or ""
    if setting is not None and setting.source == "config" and source:
        module = source.partition(":")[0]
        tokens.append(f"module:{module}")
        detail = setting.detail or ""
        if "(" in detail:  # django.conf:settings (config.settings_test) as CELERY_...
            tokens.append(f"module:{detail.partition('(')[2].partition(')')[0]}")
        if module == "django.conf":  # the settings module Django picked
            tokens += [
                "env:DJANGO_SETTINGS_MODULE",
                *(f"module:{m}" for m in _readers(snapshot, "DJANGO_SETTINGS_MODULE")),
            ]
    return tokens


def _location(ctx: DiagnosisContext, file: str | None, line: int | None) -> Location | None:
    if not facts(ctx).in_project(file):  # never a line in site-packages or a tox env
        return None
    return Location(rel(ctx, file), line)


# --------------------------------------------------------------------------- BA612


@rule()
def celery_setting_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA612: the same app's broker, result backend or eagerness differs between the sides."""
    if ctx.baseline is None:
        return
    base_apps = _apps(_celery(ctx.baseline))
    for app in _celery(ctx.target).apps:
        other = base_apps.get(app.id)
        if other is None or app.fallback or other.fallback:
            continue
        for name in _COMPARED:
            mine, theirs = _setting(app, name), _setting(other, name)
            if mine is None or theirs is None or _same(name, mine.value, theirs.value):
                continue
            yield _setting_finding(ctx, other, app, theirs, mine, unused=not _matters(name, app, other))


def _flag(app: CeleryApp, name: str) -> bool:
    setting = _setting(app, name)
    return bool(setting is not None and setting.value)


def _matters(name: str, *apps: CeleryApp) -> bool:
    """Whether a differing setting can change what a task call does: eager on both sides, the
    broker is never used, nor the result backend unless eager results are stored."""
    eager = all(_flag(a, "task_always_eager") for a in apps)
    if name == "broker_url":
        return not eager
    if name == "result_backend":
        return not eager or any(_flag(a, "task_store_eager_result") for a in apps)
    return True


def _same(name: str, a: object, b: object) -> bool:
    if name in ("broker_url", "result_backend"):
        return (is_real_url(a if isinstance(a, str) else None), a or None) == (
            is_real_url(b if isinstance(b, str) else None),
            b or None,
        )
    return bool(a) == bool(b)


def _setting_finding(
    ctx: DiagnosisContext,
    base_app: CeleryApp,
    app: CeleryApp,
    base: CelerySetting,
    mine: CelerySetting,
    *,
    unused: bool = False,
) -> Finding:
    assert ctx.baseline is not None
    local, tox = side_label(ctx, "baseline"), side_label(ctx, "target")
    what = _COMPARED[mine.name]
    title = (
        f"Celery app {app.id}: {what} is {_shown(mine.name, mine.value)} {tox}, "
        f"{_shown(base.name, base.value)} {local}"
    )
    detail = (
        f"{local} {mine.name} = {_shown(base.name, base.value)} ({said_source(base)}); "
        f"{tox} {mine.name} = {_shown(mine.name, mine.value)} ({said_source(mine)})."
    )
    if mine.source == "env" or base.source == "env":
        detail += (
            " Celery reads CELERY_BROKER_URL and CELERY_RESULT_BACKEND before any setting, so the"
            " variable wins over the configuration wherever it is set."
        )
    about = [*_source_tokens(ctx.baseline, base_app, base), *_source_tokens(ctx.target, app, mine)]
    if unused:
        detail += " Both sides run the tasks eagerly without storing results, so no task call uses it."
    return finding(
        "BA612",
        "info" if unused else "warning",
        title,
        f"{app.id}.{mine.name}",
        detail,
        _setting_fix(mine, base, local),
        location=_location(ctx, app.file, app.line),
        about=about or [f"celery-app:{app.id}"],
        effects_on=[f"celery-app:{app.id}"],
        group="other" if unused else "cause",
        score=60.0,
        app=app.id,
        setting=mine.name,
        baseline={"value": base.value, "source": base.source, "detail": base.detail},
        target={"value": mine.value, "source": mine.source, "detail": mine.detail},
    )


def _setting_fix(mine: CelerySetting, base: CelerySetting, local: str) -> str:
    if base.source == "env" and base.detail:
        return f"pass {base.detail} into the env (pass_env), or give the tests their own setting"
    if mine.source == "env" and mine.detail:
        return f"{mine.detail} is set only under tox: remove it from set_env or pass_env"
    return (
        f"make the tests' Celery settings not depend on how they are started: set {mine.name} for the "
        f"tests in one place (the test settings or tests/conftest.py), as {local}"
    )


# --------------------------------------------------------------------------- BA611 / BA613


def _endpoint(call: CeleryCall) -> tuple[str | None, str]:
    """(host:port, "broker"/"result backend") a call reached or failed on; (None, "") if none."""
    if call.outcome == "error" and call.error_side == "backend" and call.backend_target:
        return call.backend_target, "result backend"
    if call.outcome == "error" and call.error_side == "broker":
        return call.broker_target or "localhost:5672", "broker"
    if call.outcome == "sent" and is_real_url(call.broker or DEFAULT_BROKER):
        return call.broker_target or "localhost:5672", "broker"
    return None, ""


@rule()
def celery_call_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA611/BA613: a task call reached a real broker or backend on the target side only."""
    if ctx.baseline is None:
        return
    base_calls: dict[str, list[CeleryCall]] = {}
    for call in _celery(ctx.baseline).calls:
        base_calls.setdefault(call.task, []).append(call)
    seen: set[tuple[str, str]] = set()
    for call in _celery(ctx.target).calls:
        endpoint, side = _endpoint(call)
        theirs = base_calls.get(call.task, [])
        if endpoint is None or not theirs or (call.task, endpoint) in seen:
            continue
        if any(_endpoint(c)[0] == endpoint for c in theirs):
            continue  # the same on both sides: not a difference tox made
        seen.add((call.task, endpoint))
        yield _call_finding(ctx, call, theirs[0], endpoint, side)


def _call_finding(
    ctx: DiagnosisContext, call: CeleryCall, base: CeleryCall, endpoint: str, side: str
) -> Finding:
    local, tox = side_label(ctx, "baseline"), side_label(ctx, "target")
    eager_backend = bool(call.eager) and side == "result backend"
    code = "BA613" if eager_backend else "BA611"
    url = call.backend if side == "result backend" else (call.broker or DEFAULT_BROKER)
    where = f"{rel(ctx, call.file)}:{call.line}" if call.file else "a test"
    verb = "failed on" if call.outcome == "error" else "was sent to"
    if eager_backend:
        title = f"{call.task} runs eagerly {tox} but still contacts the result backend {endpoint}"
    else:
        title = f"{call.task}.delay() {verb} the {side} {endpoint} {tox}; {local} it {_base_words(base)}"
    detail = f"{where} calls {call.task} on app {call.app_id or '?'}: {tox} it {verb} the {side} {url}"
    detail += f" ({call.error})." if call.error else "."
    detail += f" {local.capitalize()} the same call {_base_words(base)}."
    if eager_backend:
        detail += (
            " An eager task stores its result when task_store_eager_result is set, and a canvas or an"
            " AsyncResult asks the backend even in eager mode."
        )
    return finding(
        code,
        "error" if call.outcome == "error" else "warning",
        title,
        call.task,
        detail,
        _call_fix(side, eager_backend),
        location=_location(ctx, call.file, call.line),
        about=[f"celery-app:{call.app_id}", f"celery-task:{call.task}", f"target:{endpoint}"],
        effects_on=[f"target:{endpoint}"],
        group="cause",
        score=70.0,
        task=call.task,
        app=call.app_id,
        endpoint=endpoint,
        side=side,
        outcome=call.outcome,
        count=call.count,
    )


def _base_words(base: CeleryCall) -> str:
    if base.outcome == "eager":
        return "ran eagerly"
    if base.outcome == "sent":
        return f"was sent to {base.broker or DEFAULT_BROKER}"
    return f"failed too ({base.error})"


def _call_fix(side: str, eager_backend: bool) -> str:
    if eager_backend:
        return (
            "give the tests an in-process result backend (result_backend = 'cache+memory://'), "
            "or set task_store_eager_result = False"
        )
    if side == "result backend":
        return "give the tests an in-process result backend (result_backend = 'cache+memory://')"
    return (
        "run the tests' tasks eagerly or on memory:// the same way under tox: see the setting or the "
        "variable that differs (the cause above); or make the broker reachable for this env"
    )


# --------------------------------------------------------------------------- BA614


@rule()
def celery_default_app_rule(ctx: DiagnosisContext) -> Iterator[Finding]:
    """BA614: the project's Celery app exists on the baseline side only, and on the target side
    tasks resolve to Celery's fallback default app."""
    if ctx.baseline is None:
        return
    target = _celery(ctx.target)
    if not target.imported:
        return
    mine = _apps(target)
    fallback_calls = [c for c in target.calls if mine.get(c.app_id or "") and mine[c.app_id or ""].fallback]
    for app in _celery(ctx.baseline).apps:
        if app.fallback or app.id in mine or not app.tasks or not facts(ctx).in_project(app.file):
            continue
        has_fallback = any(a.fallback for a in target.apps)
        if not (fallback_calls or has_fallback):
            continue
        yield _default_app_finding(ctx, app, fallback_calls)


def _importer(snapshot: Snapshot, module: str | None) -> str | None:
    if not module:
        return None
    event = next((e for e in snapshot.imports.timeline if e.module == module), None)
    return event.importer if event is not None else None


def _default_app_finding(ctx: DiagnosisContext, app: CeleryApp, calls: list[CeleryCall]) -> Finding:
    assert ctx.baseline is not None
    local, tox = side_label(ctx, "baseline"), side_label(ctx, "target")
    module = app.module or "?"
    tasks = sorted({c.task for c in calls}) or list(app.tasks)
    shown = ", ".join(tasks[:3]) + (f" and {len(tasks) - 3} more" if len(tasks) > 3 else "")
    importer = _importer(ctx.baseline, app.module)
    title = (
        f"the Celery app {app.id} ({module}) is never created {tox}: shared tasks use Celery's default app"
    )
    detail = (
        f"{local} {module} creates the app {app.id} at {rel(ctx, app.file)}:{app.line}"
        + (f" (imported by {importer})" if importer else "")
        + f" and {shown} bind to it; {tox} nothing imports {module}, so @shared_task resolves"
        f" current_app to Celery's fallback 'default' app, which has none of its settings (broker"
        f" {DEFAULT_BROKER}, no result backend, not eager)."
    )
    fix = (
        f"make sure {module} is imported before the tasks are called, whatever the tests are started "
        f"with: `from {module} import app as celery_app` (your app's name) in the package's __init__.py, "
        "as Celery's Django guide does, or an import in tests/conftest.py; or bind the tasks with @app.task"
    )
    about = [f"module:{module}", *([f"module:{importer}"] if importer else [])]
    return finding(
        "BA614",
        "error" if any(c.outcome == "error" for c in calls) else "warning",
        title,
        app.id,
        detail,
        fix,
        location=_location(ctx, app.file, app.line),
        about=about,
        effects_on=[*(f"celery-app:{c.app_id}" for c in calls), "celery-app:default"],
        group="cause",
        score=75.0,
        app=app.id,
        module=module,
        tasks=tasks,
    )


@hookimpl
def broker_audit_rules() -> list[Callable[[DiagnosisContext], Iterable[Finding]]]:
    return [celery_setting_rule, celery_call_rule, celery_default_app_rule]
