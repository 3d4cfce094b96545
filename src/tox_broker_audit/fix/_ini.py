"""Edits of ``tox.ini``/``setup.cfg`` that keep the file as the user wrote it (configupdater).

configupdater reads the file into blocks that render back byte for byte; the edit is made in
the raw text of the one block it changes, because configupdater re-renders an option it
modifies (``passenv=`` becomes ``passenv =``, the continuation lines re-indented) and puts a
new key after the section's trailing blank lines.

The section is the one whose header is at or above the finding's line (the engine points a
fix at the env's own section); a value is added to an existing key — a single-line
``pass_env`` gets ``, NAME`` before any comment on its line (tox splits a one-line value at
commas, a multi-line one at line ends), anything else a new line indented as its others — or
the key is added after the section's last key; a variable's entry is taken out of
``set_env``. tox's old spellings (``passenv``, ``setenv``) are the same keys. Comments, order,
continuation lines, factor conditions and ``{posargs}`` stay as they are; nothing is added
twice, and a name a ``pass_env`` glob already matches is not added.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re

from configupdater import ConfigUpdater, Option, Section

__all__ = ["add", "remove"]

_HEADER = re.compile(r"^\s*\[([^\]]+)\]")
_SPLIT = re.compile(r"[,\s]+")
#: tox 4 reads both spellings of these keys.
_ALIASES = {"pass_env": "passenv", "set_env": "setenv"}
#: ``[factor: ]NAME = value`` of a ``set_env`` line.
_ASSIGNMENT = re.compile(r"^\s*(?:[\w.,!-]+:\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*=")
#: Where a comment starts on a line, as tox strips it (an unescaped ``#``).
_COMMENT = re.compile(r"\s*(?<!\\)#")
#: An option's first line: the key and its delimiter, then the value's first line.
_KEY_LINE = re.compile(r"^(\s*[^=:\s]+\s*[=:][ \t]*)(.*)$", re.S)


@dataclasses.dataclass(frozen=True)
class _Located:
    """The env's section in ``text``: its name, and its options and where each one's text is."""

    name: str
    options: tuple[tuple[Option, int], ...]  # (option, offset of its first character)
    end: int  # where a new key goes: after the section's last option (or its header)


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


def _locate(text: str, line: int | None) -> _Located | None:
    updater = ConfigUpdater()
    updater.read_string(text)
    name = _section_at(text, line)
    if name is None or not updater.has_section(name) or str(updater) != text:
        return None
    offset = 0
    for block in updater.iter_blocks():
        raw = str(block)
        if isinstance(block, Section) and block.name == name:
            children = list(block.iter_blocks())
            at = end = offset + len(raw) - sum(len(str(child)) for child in children)
            options: list[tuple[Option, int]] = []
            for child in children:
                if isinstance(child, Option):
                    options.append((child, at))
                    end = at + len(str(child))
                at += len(str(child))
            return _Located(name, tuple(options), end)
        offset += len(raw)
    return None


def _entries(value: str) -> list[str]:
    return [e for e in (line.split("#", 1)[0].strip() for line in value.splitlines()) if e]


def _option(located: _Located, key: str) -> tuple[Option, int] | None:
    spellings = (key, _ALIASES.get(key, key))
    return next(((o, at) for o, at in located.options if o.key in spellings), None)


def _passed_already(current: str, value: str) -> bool:
    names = {e for entry in _entries(current) for e in _SPLIT.split(entry) if e}
    return any(fnmatch.fnmatchcase(value, name) for name in names)


def _newline(raw: str) -> str:
    return "\r\n" if raw.split("\n", 1)[0].endswith("\r") else "\n"


def _added(raw: str, key: str, value: str) -> str:
    """The option's text ``raw`` with ``value`` added: on its line (a one-line ``pass_env``) or
    as a new last line, indented as the option's other continuation lines."""
    lines = raw.splitlines(keepends=True)
    newline = _newline(raw)
    match = _KEY_LINE.match(lines[0])
    if key == "pass_env" and len(lines) == 1 and match and match.group(2).strip():
        body = lines[0].rstrip("\r\n")
        comment = _COMMENT.search(body, len(match.group(1)))
        cut = comment.start() if comment else len(body)
        return f"{body[:cut]}, {value}{body[cut:]}{lines[0][len(body) :]}"
    indent = next((ln[: len(ln) - len(ln.lstrip())] for ln in lines[1:] if ln.strip()), "    ")
    ending = "" if raw.endswith("\n") else newline
    return f"{raw}{ending}{indent}{value}{newline}"


def add(text: str, line: int | None, key: str, value: str) -> tuple[str, str]:
    """``text`` with ``value`` added to ``key`` of the env's section, and what was done."""
    located = _locate(text, line)
    if located is None:
        return text, ""
    found = _option(located, key)
    if found is None:
        before = text[: located.end]
        lead = "" if not before or before.endswith("\n") else _newline(text)
        new = f"{lead}{key} = {value}{_newline(text)}"
        return before + new + text[located.end :], f"[{located.name}] {key} += {value}"
    option, at = found
    current = option.value or ""
    if (key == "pass_env" and _passed_already(current, value)) or value in _entries(current):
        return text, ""
    raw = str(option)
    after = text[:at] + _added(raw, key, value) + text[at + len(raw) :]
    return after, f"[{located.name}] {option.key} += {value}"


def _names(line: str) -> str | None:
    """The variable a ``set_env`` line sets (None: a comment, blank or other line)."""
    match = _ASSIGNMENT.match(_COMMENT.split(line, maxsplit=1)[0])
    return match.group(1) if match else None


def remove(text: str, line: int | None, key: str, value: str) -> tuple[str, str]:
    """``text`` with the entry of variable ``value`` taken out of ``key`` (``set_env``) of the
    env's section — the key itself when nothing else is left — and what was done."""
    located = _locate(text, line)
    found = _option(located, key) if located is not None else None
    if located is None or found is None:
        return text, ""
    option, at = found
    raw = str(option)
    lines = raw.splitlines(keepends=True)
    match = _KEY_LINE.match(lines[0])
    head, first = (match.group(1), match.group(2)) if match else (lines[0], "")
    kept = [ln for ln in lines[1:] if _names(ln) != value]
    on_first = _names(first) == value
    if not on_first and len(kept) == len(lines) - 1:
        return text, ""
    first_line = f"{head.rstrip()}{_newline(raw)}" if on_first else lines[0]
    rest = "".join(kept)
    left = _entries(("" if on_first else first) + "\n" + rest)
    new = f"{first_line}{rest}" if left else ""
    return text[:at] + new + text[at + len(raw) :], f"[{located.name}] {option.key} -= {value}"
