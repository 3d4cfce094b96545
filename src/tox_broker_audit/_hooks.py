"""Our own pluggy hook specification: third parties add diagnosis rules and output formats.

A package extends tox-broker-audit by exposing a module under the entry-point group
``tox_broker_audit`` that implements any of the hooks below with ``@hookimpl``::

    # pyproject.toml of the extension
    [project.entry-points.tox_broker_audit]
    celery = "my_ext.rules"

    # my_ext/rules.py
    from tox_broker_audit import hookimpl

    @hookimpl
    def broker_audit_rules():
        return [my_rule]            # callables: (DiagnosisContext) -> Iterable[Finding]

See ``docs/extending.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    from ._findings import Finding, Report

__all__ = ["PROJECT", "Renderer", "Rule", "hookimpl", "hookspec"]

PROJECT = "tox_broker_audit"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Rule(Protocol):
    """A diagnosis rule: looks at the diff context and yields findings."""

    def __call__(self, ctx: Any, /) -> Iterable[Finding]: ...


class Renderer(Protocol):
    """An output format: ``name`` is what ``--format`` accepts."""

    name: str

    def __call__(self, report: Report, options: Any, /) -> str: ...


@hookspec
def broker_audit_rules() -> Sequence[Rule]:  # type: ignore[empty-body]
    """Return diagnosis rules to run on every baseline/target pair."""


@hookspec
def broker_audit_renderers() -> Sequence[Renderer]:  # type: ignore[empty-body]
    """Return renderers (output formats) to make available."""
