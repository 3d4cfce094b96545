"""Registers the built-in renderers through the same hook third parties use."""

from __future__ import annotations

from collections.abc import Sequence

from tox_broker_audit._hooks import Renderer, hookimpl

from ._azure import AzureRenderer
from ._github import GithubRenderer
from ._gitlab import GitlabRenderer
from ._json import JsonRenderer
from ._markdown import MarkdownRenderer
from ._sarif import SarifRenderer
from ._terminal import TerminalRenderer

__all__ = ["broker_audit_renderers"]


@hookimpl
def broker_audit_renderers() -> Sequence[Renderer]:
    return [
        TerminalRenderer(),
        JsonRenderer(),
        MarkdownRenderer(),
        GithubRenderer(),
        GitlabRenderer(),
        SarifRenderer(),
        AzureRenderer(),
    ]
