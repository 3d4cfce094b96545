"""Edits of ``tox.toml`` / ``pyproject.toml`` (``[tool.tox]``) that keep the rest as written (tomlkit).

The table is the one whose header is at or above the finding's line (``[env.py]``,
``[env_run_base]``, ``[tool.tox.env_run_base]``); ``pass_env`` and ``deps`` are arrays: the
value is appended (nothing twice), or the key is added to that table.
"""

from __future__ import annotations

import re

import tomlkit

__all__ = ["add"]

_HEADER = re.compile(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$")


def _table_at(text: str, line: int | None) -> list[str] | None:
    found = None
    for number, content in enumerate(text.splitlines(), start=1):
        match = _HEADER.match(content)
        if match and (line is None or number <= line):
            found = [part.strip().strip('"') for part in match.group(1).split(".")]
    return found


def add(text: str, line: int | None, key: str, value: str) -> tuple[str, str]:
    """``text`` with ``value`` added to the array ``key`` of the env's table, and what was done."""
    document = tomlkit.parse(text)
    path = _table_at(text, line)
    if not path:
        return text, ""
    table = document
    for part in path:
        if part not in table:
            return text, ""
        table = table[part]
    current = table.get(key)
    if current is None:
        table[key] = [value]
    elif isinstance(current, list):
        if value in [str(v) for v in current]:
            return text, ""
        current.append(value)
    else:
        return text, ""
    return tomlkit.dumps(document), f"[{'.'.join(path)}] {key} += {value}"
