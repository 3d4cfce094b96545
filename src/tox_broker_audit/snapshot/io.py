"""Strict loading and dumping of snapshot files (docs/snapshot.md).

This is the only place that turns a snapshot file into typed objects. Loading is strict: a
foreign file, a truncated file, a wrong type or an unknown ``schema_version`` is a
:class:`SnapshotError` with one line of explanation, never a traceback. Unknown *keys* are
tolerated so that newer probes can add fields without breaking older readers (extend, never
rename).

Like :mod:`.model`, no ``from __future__ import annotations``: the loader evaluates the
model's field types at run time, also on Python 3.9.
"""

import dataclasses
import json
import sys
import threading
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from tox_broker_audit._errors import SnapshotError
from tox_broker_audit._sanitize import clean
from tox_broker_audit.probe import _tba_redact
from tox_broker_audit.snapshot.model import SCHEMA, SCHEMA_VERSION, Snapshot

__all__ = ["dump_snapshot", "load_snapshot", "snapshot_from_dict", "snapshot_to_dict"]

# --------------------------------------------------------------------------- loading

_T = TypeVar("_T")
_NoneType = type(None)
_UNION_TYPES: tuple[Any, ...] = (Union,)
if sys.version_info >= (3, 10):  # pragma: no branch
    _UNION_TYPES = (Union, types.UnionType)


def _fail(where: str, problem: str) -> SnapshotError:
    return SnapshotError(f"not a valid snapshot: {where}: {problem}")


def _convert(tp: Any, value: Any, where: str) -> Any:
    if tp is Any:
        return value
    origin = get_origin(tp)
    if origin in _UNION_TYPES:
        args = get_args(tp)
        if value is None:
            if _NoneType in args:
                return None
            raise _fail(where, "is null")
        others = [a for a in args if a is not _NoneType]
        if len(others) == 1:
            return _convert(others[0], value, where)
        errors = []
        for arg in others:
            try:
                return _convert(arg, value, where)
            except SnapshotError as exc:
                errors.append(str(exc))
        raise _fail(where, "matches none of the allowed types")
    if origin is Literal:
        if value not in get_args(tp):
            raise _fail(where, f"{_shown(value)} is not one of {', '.join(map(repr, get_args(tp)))}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise _fail(where, f"expected a list, got {type(value).__name__}")
        (item_tp, _ellipsis) = get_args(tp)
        return tuple(_convert(item_tp, item, f"{where}[{i}]") for i, item in enumerate(value))
    if origin in (Mapping, dict):
        if not isinstance(value, dict):
            raise _fail(where, f"expected an object, got {type(value).__name__}")
        key_tp, val_tp = get_args(tp)
        return {
            _convert(key_tp, k, f"{where} key"): _convert(val_tp, v, f"{where}.{k}") for k, v in value.items()
        }
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _from_dict(tp, value, where)
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(where, f"expected true/false, got {type(value).__name__}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(where, f"expected an integer, got {type(value).__name__}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(where, f"expected a number, got {type(value).__name__}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _fail(where, f"expected a string, got {type(value).__name__}")
        return value
    msg = f"unsupported field type {tp!r} at {where}"
    raise TypeError(msg)  # pragma: no cover - model bug


_HINTS: dict[type, dict[str, Any]] = {}


def _from_dict(cls: type[_T], data: Any, where: str) -> _T:
    if not isinstance(data, dict):
        raise _fail(where, f"expected an object, got {type(data).__name__}")
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        # ``cls`` is a "reserved" word only in our Python API; the JSON says "class".
        key = "class" if field.name == "cls" else field.name
        if key not in data:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise _fail(where, f"missing field {key!r}")
            continue
        kwargs[field.name] = _convert(hints[field.name], data[key], f"{where}.{key}")
    return cls(**kwargs)


def snapshot_from_dict(data: Any) -> Snapshot:
    """Validate a decoded JSON value and build a :class:`Snapshot` from it."""
    if not isinstance(data, dict):
        msg = f"not a snapshot: expected a JSON object, got {type(data).__name__}"
        raise SnapshotError(msg)
    schema = data.get("schema")
    if schema != SCHEMA:
        msg = f"not a tox-broker-audit snapshot (schema is {_shown(schema)}, expected {SCHEMA!r})"
        raise SnapshotError(msg)
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        msg = (
            f"unsupported snapshot schema_version {_shown(version)}: this tox-broker-audit reads version "
            f"{SCHEMA_VERSION}; re-capture it with this version or upgrade"
        )
        raise SnapshotError(msg)
    return _from_dict(Snapshot, data, "snapshot")


#: Per dataclass, ``(attribute, JSON key)`` of its fields (``cls`` is ``class`` in JSON).
_KEYS: dict[type, tuple[tuple[str, str], ...]] = {}


def _keys(cls: type) -> tuple[tuple[str, str], ...]:
    keys = _KEYS.get(cls)
    if keys is None:
        fields = dataclasses.fields(cls)
        keys = _KEYS[cls] = tuple((f.name, "class" if f.name == "cls" else f.name) for f in fields)
    return keys


def _same(text: str) -> str:
    return text


def _to_jsonable(value: Any, text: Callable[[str], str] = _same) -> Any:
    """``value`` as JSON-able data; ``text`` applied to every string and key on the way."""
    if isinstance(value, str):
        return text(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {text(key): _to_jsonable(getattr(value, name), text) for name, key in _keys(type(value))}
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v, text) for v in value]
    if isinstance(value, Mapping):
        return {text(str(k)): _to_jsonable(v, text) for k, v in value.items()}
    return value


def snapshot_to_dict(snapshot: Snapshot) -> dict[str, Any]:
    result: dict[str, Any] = _to_jsonable(snapshot)
    return result


def load_snapshot(path: "Union[str, Path]") -> Snapshot:
    """Read and validate a snapshot file; every problem is a one-line :class:`SnapshotError`."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = f"snapshot file not found: {file}"
        raise SnapshotError(msg) from None
    except IsADirectoryError:
        msg = f"snapshot path is a directory, not a file: {file}"
        raise SnapshotError(msg) from None
    except UnicodeDecodeError:
        msg = f"{file}: not a snapshot (not UTF-8 text)"
        raise SnapshotError(msg) from None
    except OSError as exc:
        msg = f"cannot read snapshot {file}: {exc.strerror or exc}"
        raise SnapshotError(msg) from None
    if not text.strip():
        msg = f"{file}: empty file, not a snapshot"
        raise SnapshotError(msg)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"{file}: not a snapshot (invalid or truncated JSON at line {exc.lineno}, column {exc.colno})"
        raise SnapshotError(msg) from None
    except RecursionError:
        msg = f"{file}: not a snapshot (JSON nested too deeply)"
        raise SnapshotError(msg) from None
    except ValueError as exc:  # an integer of more digits than Python converts
        msg = f"{file}: not a snapshot ({_short(str(exc))})"
        raise SnapshotError(msg) from None
    try:
        return snapshot_from_dict(data)
    except SnapshotError as exc:
        msg = f"{file}: {exc}"
        raise SnapshotError(msg) from None
    except RecursionError:
        msg = f"{file}: not a valid snapshot (a value nested too deeply)"
        raise SnapshotError(msg) from None


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(value: Any) -> str:
    """``repr(value)`` kept to one short line (a 5,000-digit integer, a huge string)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return "an integer too large to be a version"
    try:
        return _short(repr(value))
    except ValueError:  # pragma: no cover - int digits limit
        return "an unreadable value"


def snapshot_json(snapshot: Snapshot) -> str:
    """The snapshot as JSON text, every string clean (redacted, then neutralised) as in every
    other output: a snapshot file is an artefact a CI log may print."""
    # One pass: what clean_tree(snapshot_to_dict(snapshot)) gives, without the second tree.
    return json.dumps(_to_jsonable(snapshot, clean), indent=1, sort_keys=False) + "\n"


#: Snapshots serialised ahead (:func:`prepare`), each with the redaction generation its text
#: was cleaned under: a few, for ``tox -p`` with several envs' baselines at once.
_PREPARED: "list[tuple[Snapshot, int, str]]" = []
_PREPARED_LOCK = threading.Lock()


def prepare(snapshot: Snapshot) -> None:
    """Serialise ``snapshot`` now, for :func:`dump_snapshot` later: a background baseline has
    the time while the env's commands run, the audit after them has not."""
    text = snapshot_json(snapshot)
    with _PREPARED_LOCK:
        _PREPARED[:] = [*_PREPARED[-3:], (snapshot, _tba_redact.GENERATION, text)]


def _json_of(snapshot: Snapshot) -> str:
    with _PREPARED_LOCK:
        for known, generation, text in _PREPARED:
            if known is snapshot and generation == _tba_redact.GENERATION:
                return text
    return snapshot_json(snapshot)


def dump_snapshot(snapshot: Snapshot, path: "Union[str, Path]") -> None:
    """Write ``snapshot`` as JSON, atomically and only onto a regular file or a new path (so a
    crash never leaves half a file, and a FIFO or device is never replaced); problems are a
    one-line :class:`AuditError`."""
    from tox_broker_audit._files import write_text

    write_text(Path(path), _json_of(snapshot))
