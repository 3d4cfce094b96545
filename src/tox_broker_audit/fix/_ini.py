"""Edits of ``tox.ini``/``setup.cfg`` that keep the file as the user wrote it (configupdater).

The section is the one whose header is at or above the finding's line (the engine points a
fix at the env's own section); a value is added to an existing key — a single-line
``pass_env`` gets ``, NAME``, a multi-line one a new line, ``deps`` a new line — or the key is
added at the end of the section; a variable's entry is taken out of ``set_env``. tox's old
spellings (``passenv``, ``setenv``) are the same keys. Comments, order, continuation lines,
factor conditions and ``{posargs}`` stay as they are; nothing is added twice, and a name a
``pass_env`` glob already matches is not added.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from configupdater import ConfigUpdater

__all__ = ["add", "remove"]

_HEADER = re.compile(r"^\s*\[([^\]]+)\]")
_SPLIT = re.compile(r"[,\s]+")
#: tox 4 reads both spellings of these keys.
_ALIASES = {"pass_env": "passenv", "set_env": "setenv"}
#: ``[factor: ]NAME = value`` of a ``set_env`` line.
_ASSIGNMENT = re.compile(r"^\s*(?:[\w.,!-]+:\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


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


def _open(text: str, line: int | None) -> tuple[ConfigUpdater, Any, str] | None:
    updater = ConfigUpdater()
    updater.read_string(text)
    name = _section_at(text, line)
    if name is None or not updater.has_section(name):
        return None
    return updater, updater[name], name


def _key_in(section: Any, key: str) -> str | None:
    for spelling in (key, _ALIASES.get(key, key)):
        if spelling in section:
            return spelling
    return None


def _passed_already(current: str, value: str) -> bool:
    names = {e for entry in _entries(current) for e in _SPLIT.split(entry) if e}
    return any(fnmatch.fnmatchcase(value, name) for name in names)


def add(text: str, line: int | None, key: str, value: str) -> tuple[str, str]:
    """``text`` with ``value`` added to ``key`` of the env's section, and what was done."""
    opened = _open(text, line)
    if opened is None:
        return text, ""
    updater, section, name = opened
    spelling = _key_in(section, key)
    if spelling is None:
        section[key] = value
        return str(updater), f"[{name}] {key} += {value}"
    option = section[spelling]
    current = option.value or ""
    if (key == "pass_env" and _passed_already(current, value)) or value in _entries(current):
        return text, ""
    if key == "pass_env" and "\n" not in current and current.strip():  # all on the key's line
        option.value = f"{current.rstrip()}, {value}"
    else:
        option.append(value)
    return str(updater), f"[{name}] {spelling} += {value}"


def remove(text: str, line: int | None, key: str, value: str) -> tuple[str, str]:
    """``text`` with the entry of variable ``value`` taken out of ``key`` (``set_env``) of the
    env's section — the key itself when nothing else is left — and what was done."""
    opened = _open(text, line)
    if opened is None:
        return text, ""
    updater, section, name = opened
    spelling = _key_in(section, key)
    if spelling is None:
        return text, ""
    option = section[spelling]
    lines = (option.value or "").splitlines()
    kept = [ln for ln in lines if not ((m := _ASSIGNMENT.match(ln.split("#", 1)[0])) and m.group(1) == value)]
    if len(kept) == len(lines):
        return text, ""
    if _entries("\n".join(kept)):
        raw = option.lines[1:]  # the continuation lines as written: keep their indentation
        indent = next((r[: len(r) - len(r.lstrip())] for r in raw if r.strip()), "    ")
        values = [ln.strip() for ln in kept if ln.strip()]
        option.set_values(values, indent=indent, prepend_newline=not lines[0].strip())
    else:
        option.detach()
    return str(updater), f"[{name}] {spelling} -= {value}"
