"""The plugin manager: our hook specs, the built-in rules, and every installed extension.

Extensions register under the entry-point group ``tox_broker_audit`` (see
``docs/extending.md``); the built-in rule modules are registered the same way they are.
Renderers contributed by extensions are collected here too; the built-in renderers are
added by :mod:`tox_broker_audit.renderers` itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable

import pluggy

from tox_broker_audit.diagnosis import hooks
from tox_broker_audit.diagnosis.model import DiagnosisContext, Finding
from tox_broker_audit.diagnosis.rules import (
    brokers,
    celery,
    environ,
    failures,
    files,
    imports,
    packages,
    pytest_config,
    reachability,
    startup,
    workers,
)

__all__ = ["collect_renderers", "collect_rules", "default_plugin_manager", "make_plugin_manager"]

#: Built-in rule modules, in the order their findings are produced.
BUILTIN_RULES = (
    ("environ", environ),
    ("packages", packages),
    ("startup", startup),
    ("pytest_config", pytest_config),
    ("files", files),
    ("workers", workers),
    ("imports", imports),
    ("failures", failures),
    ("brokers", brokers),
    ("celery", celery),
    ("reachability", reachability),
)


def make_plugin_manager(*, entry_points: bool = True) -> pluggy.PluginManager:
    """A plugin manager with our hook specs and the built-in rules, plus (unless
    ``entry_points`` is false) every plugin installed under the group ``tox_broker_audit``."""
    pm = pluggy.PluginManager(hooks.PROJECT)
    pm.add_hookspecs(hooks)
    for name, module in BUILTIN_RULES:
        pm.register(module, name=f"tox_broker_audit.rules.{name}")
    if entry_points:
        pm.load_setuptools_entrypoints(hooks.PROJECT)
    return pm


_DEFAULT_PM: list[pluggy.PluginManager] = []


def default_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use (entry points are scanned once)."""
    if not _DEFAULT_PM:
        _DEFAULT_PM.append(make_plugin_manager())
    return _DEFAULT_PM[0]


def collect_rules(
    pm: pluggy.PluginManager | None = None,
) -> list[Callable[[DiagnosisContext], Iterable[Finding]]]:
    """Every rule contributed through ``broker_audit_rules``, in registration order."""
    pm = pm or default_plugin_manager()
    rules: list[Callable[[DiagnosisContext], Iterable[Finding]]] = []
    for contributed in reversed(pm.hook.broker_audit_rules()):  # pluggy calls LIFO
        rules.extend(contributed or ())
    return rules


def collect_renderers(pm: pluggy.PluginManager | None = None) -> dict[str, Any]:
    """Renderers contributed through ``broker_audit_renderers``, by format name (first wins)."""
    pm = pm or default_plugin_manager()
    found: dict[str, Any] = {}
    for contributed in reversed(pm.hook.broker_audit_renderers()):
        for renderer in contributed or ():
            found.setdefault(str(renderer.name), renderer)
    return found
