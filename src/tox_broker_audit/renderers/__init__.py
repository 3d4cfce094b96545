"""Renderers (output formats): the built-in ones and those extensions add through our pluggy
hook ``broker_audit_renderers`` (a built-in format keeps its name).

:func:`render` is the one entry point, and the one place where a report's data is made safe
to print: every string of the :class:`Report` passes :func:`tox_broker_audit._sanitize.clean`
(redacted on the raw text, then control characters and CI runner commands neutralised)
before any renderer sees it, so a renderer only arranges clean fields. Text formats are
then checked line by line (:func:`~tox_broker_audit._sanitize.guard_lines`: no line starts
with a workflow command) and redacted once more (defence in depth).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import TextIO

import pluggy

from tox_broker_audit._errors import AuditError
from tox_broker_audit._sanitize import clean, clean_tree, guard_lines
from tox_broker_audit.diagnosis.hooks import Renderer, RenderOptions
from tox_broker_audit.diagnosis.model import Report
from tox_broker_audit.diagnosis.registry import collect_renderers
from tox_broker_audit.probe._tba_redact import redact_text
from tox_broker_audit.renderers.builtin import builtin_renderers
from tox_broker_audit.renderers.json import report_to_dict

__all__ = [
    "RenderOptions",
    "available_formats",
    "get_renderer",
    "render",
    "report_to_dict",
    "should_color",
]


def should_color(stream: TextIO | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Colour only on a TTY; ``NO_COLOR`` (any value) disables, ``FORCE_COLOR`` enables.

    Read at call time, never at import time. https://no-color.org/
    """
    env = os.environ if environ is None else environ
    if "NO_COLOR" in env:
        return False
    if env.get("FORCE_COLOR"):
        return True
    stream = sys.stdout if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


#: Formats whose renderer redacts every string itself, before escaping it: a second pass over
#: the output could cut through its syntax (JSON quoting; a ``sig=…`` match in a workflow
#: command's property list running on over ``,line=…,title=…``).
_REDACTED_FIELD_BY_FIELD = frozenset({"json", "sarif", "gitlab", "github", "azure"})
#: Formats whose lines are runner commands on purpose (their data is escaped by the format).
_COMMAND_FORMATS = frozenset({"github", "azure"})


def _renderers(pm: pluggy.PluginManager | None) -> dict[str, Renderer]:
    found: dict[str, Renderer] = {str(r.name): r for r in builtin_renderers()}
    for name, renderer in collect_renderers(pm).items():
        found.setdefault(name, renderer)
    return found


def available_formats(plugin_manager: pluggy.PluginManager | None = None) -> list[str]:
    """Names accepted by :func:`render` (built-in and from installed extensions)."""
    return sorted(_renderers(plugin_manager))


def get_renderer(fmt: str, plugin_manager: pluggy.PluginManager | None = None) -> Renderer:
    renderers = _renderers(plugin_manager)
    try:
        return renderers[fmt]
    except KeyError:
        msg = f"unknown report format {fmt!r} (available: {', '.join(sorted(renderers))})"
        raise AuditError(msg) from None


_CLEANED_LOCK = threading.Lock()
#: The last report cleaned and its clean copy: the pipeline renders one report in several
#: formats (terminal, report.json, report.md, a CI format) and a report is immutable, so it
#: is cleaned once (1,000 findings take a noticeable part of a second).
_CLEANED: list[tuple[Report, Report]] = []


def _cleaned(report: Report) -> Report:
    with _CLEANED_LOCK:
        for original, known in _CLEANED:
            if original is report:
                return known
    clean_copy: Report = clean_tree(report)
    with _CLEANED_LOCK:
        _CLEANED[:] = [*_CLEANED[-3:], (report, clean_copy)]  # tox -p: a few envs at once
    return clean_copy


def render(
    report: Report,
    fmt: str,
    *,
    verbose: bool = False,
    color: bool | None = None,
    artefacts: Sequence[str] = (),
    plugin_manager: pluggy.PluginManager | None = None,
    root: str | None = None,
    config_file: str | None = None,
    options: RenderOptions | None = None,
) -> str:
    """Render ``report`` in format ``fmt``; ``color=None`` decides from stdout/NO_COLOR now.

    ``root`` (the CI checkout) and ``config_file`` (the tox config) only matter to the CI
    formats: paths are written relative to ``root``, and a finding without a file of its own
    is anchored at ``config_file`` where the platform requires a location. ``options``, when
    given, is used instead of the keyword arguments (the audit pipeline passes its own).
    """
    renderer = get_renderer(fmt, plugin_manager)
    if options is None:
        options = RenderOptions(
            verbose=verbose, color=color, artefacts=tuple(artefacts), root=root, config_file=config_file
        )
    options = dataclasses.replace(
        options,
        color=should_color() if options.color is None else bool(options.color),
        artefacts=tuple(clean(path) for path in options.artefacts),
    )
    text = str(renderer(_cleaned(report), options))
    if fmt not in _COMMAND_FORMATS:
        text = guard_lines(text)
    if fmt in _REDACTED_FIELD_BY_FIELD:
        return text  # already redacted field by field
    return "\n".join(redact_text(line) for line in text.split("\n"))
