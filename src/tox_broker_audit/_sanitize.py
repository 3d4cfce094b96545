"""The one output sanitiser: every text that reaches an output passes :func:`clean`.

Data in a report comes from the audited world (environment values, package and file names,
error messages) and is printed into CI logs, terminals and files. :func:`clean` first hides
secrets (:func:`~tox_broker_audit.probe._tba_redact.redact_text`, on the raw text, while a
secret still has its shape), then neutralises what a terminal or a CI runner would act on:

- control characters are shown as what they are, so a value is always one line of plain
  text: C0 and DEL (CR/LF, ESC and so ANSI/OSC sequences) as their Unicode control pictures
  (``␊``, ``␍``, ``␛``), C1 (the 8-bit CSI/OSC), line and paragraph separators, lone
  surrogates and default-ignorable characters (zero-width, bidi controls) as escapes
  (``\\x9b``, ``\\u2028``, ``\\u200b``);
- ``::`` at the start of a text (after white space): a GitHub Actions workflow command;
- ``##[`` anywhere (GitHub's older command form, Azure's formatting commands) and ``##vso[``
  anywhere (an Azure Pipelines logging command);
- ``section_start:``/``section_end:`` (GitLab's collapsible log sections).

A neutralised marker is broken by a backslash: ``\\::error``, ``#\\#vso[``,
``section_start\\:``; no runner reads these as commands. :func:`guard_lines` applies the
``::`` rule to each line of a finished text output, for a field a renderer happened to put
at the start of a line after another one. Both are idempotent and linear.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from tox_broker_audit.probe import _tba_redact
from tox_broker_audit.probe._tba_redact import redact_text

__all__ = ["MULTILINE", "clean", "clean_lines", "clean_tree", "guard_lines", "neutralise"]

#: C0, DEL, C1, line/paragraph separators, lone surrogates, and Unicode's default-ignorable
#: code points (zero-width characters, soft hyphen, bidi controls, tags): .NET's culture-aware
#: ``IndexOf``/``StartsWith`` skip those, so ``#<U+200B>#vso[`` can read as ``##vso[``.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff"
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
_RUNNER_MARK = re.compile(r"##(?=(?:vso)?\[)", re.IGNORECASE)
_GITLAB_MARK = re.compile(r"(section_(?:start|end)):", re.IGNORECASE)
#: ``::`` after leading white space (the runner trims Unicode white space before looking).
_LINE_COMMAND = re.compile(r"^([^\S\n]*)(?=::)", re.MULTILINE)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control pictures": ␊ ␍ ␛ ␉
    if code == 0x7F:
        return "\u2421"  # ␡
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


#: Anything the passes below could change; most texts have none of it (one search, not four).
_SUSPECT = re.compile(r"[^\x20-\x7e]|##|::|section_", re.IGNORECASE)


def neutralise(text: str) -> str:
    """``text`` as one line that no terminal or CI runner acts on (no redaction)."""
    if not _SUSPECT.search(text):
        return text
    text = _UNSAFE.sub(_escape, text)
    text = _RUNNER_MARK.sub(r"#\\#", text)
    text = _GITLAB_MARK.sub(r"\1\\:", text)
    return _LINE_COMMAND.sub(r"\1\\", text)


#: :func:`clean`'s results, valid while the redaction's ``GENERATION`` stays the same (it
#: changes with what is hidden: ``learn``/``forget``). The pipeline cleans the same paths and names in each
#: artefact and format; a lookup is some twenty times cheaper than the passes.
_MEMO: dict[str, str] = {}
_MEMO_FOR: list[int] = [-1]
_MEMO_MAX = 50_000


def clean(text: object) -> str:
    """Redact, then neutralise: the one function every output field goes through."""
    key = text if isinstance(text, str) else str(text)
    memo = _MEMO
    if _MEMO_FOR[0] != _tba_redact.GENERATION:
        memo.clear()
        _MEMO_FOR[0] = _tba_redact.GENERATION
    done = memo.get(key)
    if done is None:
        done = neutralise(redact_text(key))
        if len(memo) >= _MEMO_MAX:
            memo.clear()
        memo[key] = done
    return done


#: The class attribute naming a dataclass's fields that hold whole lines of a file (an edit's
#: ``before``/``after``): cleaned line by line, their line endings kept.
MULTILINE = "MULTILINE_FIELDS"


def clean_lines(text: str) -> str:
    """Each line of ``text`` cleaned (:func:`clean`), its line ending kept: file content whose
    newlines are the content, not an injection."""
    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        out.append(clean(body) + line[len(body) :])
    return "".join(out)


def guard_lines(text: str) -> str:
    """A finished multi-line output with no line starting (after white space) with ``::``."""
    return _LINE_COMMAND.sub(r"\1\\", text)


def clean_tree(value: Any) -> Any:
    """``value`` with every string (and mapping key) cleaned: mappings, lists, tuples and
    frozen dataclasses keep their shape; numbers, booleans and None are left alone."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):  # the common case, before the slower ABC check
        return {clean(k) if isinstance(k, str) else k: clean_tree(v) for k, v in value.items()}
    if isinstance(value, Mapping):
        return {clean(k) if isinstance(k, str) else k: clean_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_tree(v) for v in value]
    if isinstance(value, tuple):
        return tuple(clean_tree(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        lines = getattr(type(value), MULTILINE, ())
        changes = {
            f.name: clean_lines(getattr(value, f.name))
            if f.name in lines
            else clean_tree(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.init
        }
        return dataclasses.replace(value, **changes)
    return value
