"""Edits of ``tox.ini``/``setup.cfg`` that keep the file as the user wrote it (configupdater).

The section is the one whose header is at or above the finding's line (the engine points a
fix at the env's own section); a value is added to an existing key — a single-line
``pass_env`` gets ``, NAME``, a multi-line one a new line, ``deps`` a new line — or the key is
added at the end of the section. Comments, order, continuation lines, factor conditions and
``{posargs}`` stay as they are; nothing is added twice.
"""

from __future__ import annotations

import re

from configupdater import ConfigUpdater

__all__ = ["add"]

_HEADER = re.compile(r"^\s*\[([^\]]+)\]")
_SPLIT = re.compile(r"[,\s]+")


def _section_at(text: str, line: int | None) -> str | None:
    """The section whose header is at or above 1-based ``line`` (None: the first testenv)."""
    found = None
    for number, content in enumerate(text.splitlines(), start=1):
        match = _HEADER.match(content)
        if match and (line is None or number <= line):
            found = match.group(1).strip()
            if line is None and found.startswith("testenv"):
                return found
    return found


def _entries(value: str) -> list[str]:
    return [e for e in (line.split("#", 1)[0].strip() for line in value.splitlines()) if e]


def add(text: str, line: int | None, key: str, value: str) -> tuple[str, str]:
    """``text`` with ``value`` added to ``key`` of the env's section, and what was done."""
    updater = ConfigUpdater()
    updater.read_string(text)
    name = _section_at(text, line)
    if name is None or not updater.has_section(name):
        return text, ""
    section = updater[name]
    if key in section:
        option = section[key]
        current = option.value or ""
        names = (
            {e for entry in _entries(current) for e in _SPLIT.split(entry)} if key == "pass_env" else set()
        )
        if value in names or value in _entries(current):
            return text, ""
        if key == "pass_env" and "\n" not in current.strip("\n") and current.strip():
            option.value = f"{current.rstrip()}, {value}"
        else:
            option.append(value)
    else:
        section[key] = value
    return str(updater), f"[{name}] {key} += {value}"
