"""Edits of ``tox.toml`` / ``pyproject.toml`` (``[tool.tox]``) that keep the rest as written (tomlkit).

The table is the one whose header is at or above the finding's line (``[env.py]``,
``[env_run_base]``, ``[tool.tox.env_run_base]``); ``pass_env`` and ``deps`` are arrays: the
value is appended (nothing twice, nor a name a ``pass_env`` glob already matches), or the key
is added to that table; a variable is taken out of the ``set_env`` table.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

import tomlkit

__all__ = ["add", "remove"]

_HEADER = re.compile(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$")


def _table_at(text: str, line: int | None) -> list[str] | None:
    found = None
    for number, content in enumerate(text.splitlines(), start=1):
        match = _HEADER.match(content)
        if match and (line is None or number <= line):
            found = [part.strip().strip('"') for part in match.group(1).split(".")]
    return found


def _open(text: str, line: int | None) -> tuple[Any, Any, list[str]] | None:
    document = tomlkit.parse(text)
    path = _table_at(text, line)
    if not path:
        return None
    table: Any = document
    for part in path:
        if part not in table:
            return None
        table = table[part]
    return document, table, path


def add(text: str, line: int | None, key: str, value: str) -> tuple[str, str]:
    """``text`` with ``value`` added to the array ``key`` of the env's table, and what was done."""
    opened = _open(text, line)
    if opened is None:
        return text, ""
    document, table, path = opened
    current = table.get(key)
    if current is None:
        table[key] = [value]
    elif isinstance(current, list):
        present = [str(v) for v in current]
        if value in present or (key == "pass_env" and any(fnmatch.fnmatchcase(value, p) for p in present)):
            return text, ""
        current.append(value)
    else:
        return text, ""
    return tomlkit.dumps(document), f"[{'.'.join(path)}] {key} += {value}"


def remove(text: str, line: int | None, key: str, value: str) -> tuple[str, str]:
    """``text`` with variable ``value`` taken out of the table ``key`` (``set_env``) of the env's
    table — the key itself when it is left empty — and what was done."""
    opened = _open(text, line)
    if opened is None:
        return text, ""
    document, table, path = opened
    current = table.get(key)
    if not isinstance(current, dict) or value not in current:
        return text, ""
    del current[value]
    if not current:
        del table[key]
    return tomlkit.dumps(document), f"[{'.'.join(path)}] {key} -= {value}"
