"""The built-in output formats, in the order ``--format`` lists them."""

from __future__ import annotations

from tox_broker_audit.diagnosis.hooks import Renderer
from tox_broker_audit.renderers.ci.azure import AzureRenderer
from tox_broker_audit.renderers.ci.github import GithubRenderer
from tox_broker_audit.renderers.ci.gitlab import GitlabRenderer
from tox_broker_audit.renderers.ci.sarif import SarifRenderer
from tox_broker_audit.renderers.json import JsonRenderer
from tox_broker_audit.renderers.markdown import MarkdownRenderer
from tox_broker_audit.renderers.terminal import TerminalRenderer

__all__ = ["builtin_renderers"]


def builtin_renderers() -> list[Renderer]:
    return [
        TerminalRenderer(),
        JsonRenderer(),
        MarkdownRenderer(),
        GithubRenderer(),
        GitlabRenderer(),
        SarifRenderer(),
        AzureRenderer(),
    ]
