"""How CI runners recognise a command in a line of a step's output, re-implemented from their
own source to test our output against (not from our idea of them).

GitHub Actions runner, ``src/Runner.Common/ActionCommand.cs`` of actions/runner
(https://github.com/actions/runner/blob/079cdb1d05fe0ec50f8c51de5a4fa51d0eb189b0/src/Runner.Common/ActionCommand.cs):

- ``TryParseV2``: ``message.TrimStart()`` (.NET ``char.IsWhiteSpace``), then it must
  ``StartsWith("::")`` and contain another ``"::"`` after it; the name runs to the first space.
- ``TryParse`` (v1, tried when v2 fails): ``IndexOf("##[")`` *anywhere* in the line, then the
  first ``]`` after it; the name runs to the first space.

Both then look the name up in the registered commands. ``::stop-commands::TOKEN`` makes any
``::TOKEN::`` a command, so we count *every* name as registered (stricter than the runner).

Azure Pipelines agent, ``src/Microsoft.VisualStudio.Services.Agent/Command.cs`` of
microsoft/azure-pipelines-agent
(https://github.com/microsoft/azure-pipelines-agent/blob/095e99bb2f75a4c4c359aadc9ae53cf0402d9960/src/Microsoft.VisualStudio.Services.Agent/Command.cs):
``TryParse``: ``IndexOf("##vso[")`` anywhere, the first ``]`` after it, the name runs to the
first space and must split on ``.`` into exactly two non-empty parts (``area.event``).

Both read a step's output with .NET ``StreamReader.ReadLine``: a line ends at CR, LF or CRLF.
``string.StartsWith(string)`` and ``IndexOf(string)`` are culture-sensitive in .NET: under ICU,
default-ignorable code points (soft hyphen, zero-width characters, …) are skipped when
comparing. So every line is also checked with those removed (stricter again).

GitLab (``lib/gitlab/ci/ansi2json``) folds a log section at ``section_start:TIME:NAME``
(after ``ESC[0K``); we look for the marker itself, with or without the escape.
"""

from __future__ import annotations

import re

__all__ = ["azure_command", "github_command", "gitlab_section", "physical_lines"]

#: .NET ``char.IsWhiteSpace``: Zs, Zl, Zp, U+0009–U+000D, U+0085 (and U+00A0 is Zs).
NET_WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
#: Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt), which ICU collation skips.
_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


def physical_lines(text: str) -> list[str]:
    """Lines as ``StreamReader.ReadLine`` returns them: split on CRLF, CR or LF only."""
    return re.split(r"\r\n|\r|\n", text)


def _variants(line: str) -> tuple[str, ...]:
    return (line, _IGNORABLE.sub("", line))


def _trim_start(line: str) -> str:
    i = 0
    while i < len(line) and line[i] in NET_WHITESPACE:
        i += 1
    return line[i:]


def github_command(line: str) -> str | None:
    """The command name the runner would act on in ``line`` (v2, else v1), or None."""
    for text in _variants(line):
        message = _trim_start(text)
        if message.startswith("::"):
            end = message.find("::", 2)
            if end >= 0:
                name = message[2:end].partition(" ")[0]
                if name:
                    return name
        prefix = text.find("##[")
        if prefix >= 0:
            bracket = text.find("]", prefix)
            if bracket >= 0:
                name = text[prefix + 3 : bracket].partition(" ")[0]
                if name:
                    return name
    return None


def azure_command(line: str) -> str | None:
    """The ``area.event`` the agent would act on in ``line``, or None."""
    for text in _variants(line):
        prefix = text.find("##vso[")
        if prefix < 0:
            continue
        bracket = text.find("]", prefix)
        if bracket < 0:
            continue
        name = text[prefix + 6 : bracket].partition(" ")[0]
        if len([part for part in name.split(".") if part]) == 2:
            return name
    return None


def gitlab_section(line: str) -> bool:
    return any(re.search(r"section_(start|end):", text, re.IGNORECASE) for text in _variants(line))
