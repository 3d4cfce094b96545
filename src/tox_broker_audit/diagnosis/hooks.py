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

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

import pluggy

from tox_broker_audit.diagnosis.model import DiagnosisContext, Finding, Report

__all__ = ["PROJECT", "RenderOptions", "Renderer", "Rule", "hookimpl", "hookspec", "rule"]

PROJECT = "tox_broker_audit"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Rule(Protocol):
    """A diagnosis rule: looks at the diff context and yields findings."""

    def __call__(self, ctx: DiagnosisContext, /) -> Iterable[Finding]: ...


@dataclasses.dataclass(frozen=True)
class RenderOptions:
    """How a report is shown: what a renderer is told besides the report, and — for the audit
    pipeline — which ``formats`` to produce. ``color=None`` (the pipeline's "decide from stdout")
    is resolved by :func:`~tox_broker_audit.renderers.render` before a renderer sees it, and only
    the terminal format gets colour."""

    verbose: bool = False
    color: bool | None = False
    artefacts: tuple[str, ...] = ()
    #: The checkout the CI annotates (``GITHUB_WORKSPACE``, ``CI_PROJECT_DIR``, …): locations
    #: inside it are written relative to it. Passed in by the caller, never read from the env here.
    root: str | None = None
    #: The tox config file: where a CI format anchors a finding that has no file of its own.
    config_file: str | None = None
    #: The formats an audit renders (``--broker-audit-format``); a renderer ignores it.
    formats: tuple[str, ...] = ("terminal",)


class Renderer(Protocol):
    """An output format: ``name`` is what ``--format`` accepts."""

    name: str

    def __call__(self, report: Report, options: RenderOptions, /) -> str: ...


@hookspec
def broker_audit_rules() -> Sequence[Rule]:  # type: ignore[empty-body]
    """Return diagnosis rules to run on every baseline/target pair."""


@hookspec
def broker_audit_renderers() -> Sequence[Renderer]:  # type: ignore[empty-body]
    """Return renderers (output formats) to make available."""


_F = TypeVar("_F", bound=Callable[..., Any])


def rule(*, needs_baseline: bool = True) -> Callable[[_F], _F]:
    """Mark a rule; ``needs_baseline=False`` lets it run on a single snapshot too."""

    def mark(func: _F) -> _F:
        func.needs_baseline = needs_baseline  # type: ignore[attr-defined]
        return func

    return mark
