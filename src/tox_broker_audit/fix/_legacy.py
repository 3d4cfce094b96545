"""Edits of the ``tox.ini`` that ``pyproject.toml`` embeds as ``[tool.tox] legacy_tox_ini``.

The embedded text is edited as the ``tox.ini`` it is (:mod:`._ini`, the finding's line made
relative to the string) and put back between the same delimiters, so every other byte of
``pyproject.toml`` stays as written. Only a string whose text stands in the file verbatim is
edited — a multi-line literal (``'''``) or basic (``\"\"\"``) string without escapes — and the
result is parsed again: it must read back as the edited text, or nothing is changed.
"""

from __future__ import annotations

from typing import Any

import tomlkit

from tox_broker_audit.fix import _ini

__all__ = ["add", "holds", "remove"]

_DELIMITERS = ('"""', "'''")


def _embedded(document: Any) -> Any:
    tox: Any = document.get("tool", {})
    for key in ("tox", "legacy_tox_ini"):
        tox = tox.get(key) if isinstance(tox, dict) else None
    return tox


def _span(text: str) -> tuple[int, int, str] | None:
    """``(start, end, delimiter)`` of the embedded INI text in ``text``, when it stands there
    verbatim; None for a pyproject.toml without one (or with one written with escapes)."""
    item = _embedded(tomlkit.parse(text))
    if not isinstance(item, tomlkit.items.String):
        return None
    raw, value = item.as_string(), str(item)
    delimiter = raw[:3]
    if delimiter not in _DELIMITERS or not raw.endswith(delimiter) or raw.count(delimiter) != 2:
        return None
    inner = raw[3:-3]
    lead = 2 if inner.startswith("\r\n") else 1 if inner.startswith("\n") else 0
    if inner[lead:] != value or (delimiter == '"""' and "\\" in value):
        return None
    at = text.find(raw)
    if at < 0 or text.find(raw, at + 1) >= 0:
        return None
    start = at + 3 + lead
    return start, start + len(value), delimiter


def holds(text: str) -> bool:
    """``text`` (a pyproject.toml) configures tox in an embedded ``legacy_tox_ini`` string."""
    try:
        return _embedded(tomlkit.parse(text)) is not None
    except ValueError:  # tomlkit's ParseError
        return False


def _edited(text: str, line: int | None, key: str, value: str, change: Any) -> tuple[str, str]:
    span = _span(text)
    if span is None:
        return text, ""
    start, end, delimiter = span
    first = text.count("\n", 0, start) + 1
    if line is not None and line < first:
        return text, ""
    ini = text[start:end]
    new_ini, said = change(ini, None if line is None else line - first + 1, key, value)
    if not said or delimiter in new_ini or (delimiter == '"""' and "\\" in new_ini):
        return text, ""
    after = text[:start] + new_ini + text[end:]
    if str(_embedded(tomlkit.parse(after))) != new_ini:
        return text, ""
    return after, said


def add(text: str, line: int | None, key: str, value: str) -> tuple[str, str]:
    """``text`` with ``value`` added to ``key`` of the embedded env section, and what was done."""
    return _edited(text, line, key, value, _ini.add)


def remove(text: str, line: int | None, key: str, value: str) -> tuple[str, str]:
    """``text`` with variable ``value`` taken out of the embedded env section's ``key``."""
    return _edited(text, line, key, value, _ini.remove)
