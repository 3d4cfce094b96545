"""Environment reads and writes: the ``os.environ`` tracer and the snapshot's ``environ`` section.

Stdlib only, Python 3.9+. Executed inside the audited interpreter as the top-level module
``_tba_environ``. :func:`install_environ_tracer` swaps the class of the live ``os.environ``
object (so every existing reference, ``os.getenv`` included, goes through it) for a subclass
that notes each read and write with the phase and the first frame outside ``os`` and the
probe: the code that asked. Values of writes are redacted; reads never record a value.

Reading the environment as a whole (iterating it: ``for k in os.environ``, ``sorted(os.environ)``,
``keys()``/``items()``/``values()`` when iterated, ``dict(os.environ)``, ``{**os.environ}``,
``copy()``) is one read named ``*`` with ``how = "iter"`` per calling site and phase: cheap,
whatever the size of the environment. The per-key lookups such an iteration makes from the same
line (``items()``, ``values()`` and ``dict()`` fetch every value) add nothing to it and are not
kept; a lookup on another line, such as the ``os.environ[key]`` in the body of a prefix scan
(Flask's ``from_prefixed_env``), is a read of that key as usual. ``len(os.environ)`` is no read.
"""

from __future__ import annotations

import os
import sys

import _tba_redact as redact
from _tba_state import STATE, frame_info, interesting_frame

__all__ = ["TracingEnviron", "environ_section", "install_environ_tracer"]

_MAX_READS = 5000
_BULK_READ_NAMES = 15
_ENVIRON_CLS = type(os.environ)
#: ``(file, line, phase)`` of every site that iterated ``os.environ``: a key's lookup from the
#: same line is part of that iteration (``items()``, ``dict(os.environ)``) and is not kept.
_ITER_SITES: set = set()


def _record_read(name: object, present: bool, how: str) -> None:
    if how == "get":
        # os.getenv(k) is environ.get(k): report it as getenv when that is what the code called.
        caller = sys._getframe(2)
        if caller.f_code.co_name == "getenv":
            how = "getenv"
    _record(STATE.reads, name, how, {"present": present})


def _record_iter() -> None:
    """The caller iterates ``os.environ``: one ``*`` read of its site (see the module docstring)."""
    if not STATE.guard:
        _record(STATE.reads, "*", "iter", {"present": True})


def _record_write(name: object, how: str, value: object = None) -> None:
    shown = None
    if isinstance(name, str) and isinstance(value, str):
        shown = redact.redact_value(name, value)[0]
    _record(STATE.writes, name, how, {"value": shown})


def _record(records: list, name: object, how: str, extra: dict) -> None:
    """Note one access to os.environ by the first frame outside os/abc/probe machinery."""
    if STATE.guard or not isinstance(name, str) or len(records) >= _MAX_READS:
        return
    frame = interesting_frame(4)
    file, line, module = frame_info(frame)
    if how == "iter":
        _ITER_SITES.add((file, line, STATE.phase))
    elif how == "getitem" and extra.get("present") and (file, line, STATE.phase) in _ITER_SITES:
        return  # a value fetched by an iteration of this line: the ``*`` read says it
    key = (id(records), name, how, STATE.phase, file, line)
    if key in STATE.read_keys:
        return
    STATE.read_keys.add(key)
    entry = {"name": name, "how": how, "phase": STATE.phase, "file": file, "line": line, "module": module}
    entry.update(extra)
    records.append(entry)


def _contains(env, key) -> bool:
    try:
        _ENVIRON_CLS.__getitem__(env, key)
    except KeyError:
        return False
    return True


class TracingEnviron(_ENVIRON_CLS):  # type: ignore[misc, valid-type]
    """``os.environ``'s own class, noting every read and write (see :func:`_record`)."""

    def __getitem__(self, key):
        try:
            value = super().__getitem__(key)
        except KeyError:
            _record_read(key, False, "getitem")
            raise
        _record_read(key, True, "getitem")
        return value

    def get(self, key, default=None):
        STATE.guard += 1
        try:
            present = _contains(self, key)
        finally:
            STATE.guard -= 1
        _record_read(key, present, "get")
        STATE.guard += 1
        try:
            return super().get(key, default)
        finally:
            STATE.guard -= 1

    def __contains__(self, key):
        STATE.guard += 1
        try:
            present = _contains(self, key)
        finally:
            STATE.guard -= 1
        _record_read(key, present, "contains")
        return present

    def __setitem__(self, key, value):
        _record_write(key, "setitem", value)
        STATE.guard += 1
        try:
            super().__setitem__(key, value)
        finally:
            STATE.guard -= 1

    def __delitem__(self, key):
        _record_write(key, "delitem")
        STATE.guard += 1
        try:
            super().__delitem__(key)
        finally:
            STATE.guard -= 1

    def pop(self, key, *default):
        present = _contains(self, key)
        _record_read(key, present, "pop")
        if present:
            _record_write(key, "pop")
        STATE.guard += 1
        try:
            return super().pop(key, *default)
        finally:
            STATE.guard -= 1

    def setdefault(self, key, value):
        present = _contains(self, key)
        _record_read(key, present, "setdefault")
        if not present:
            _record_write(key, "setdefault", value)
        STATE.guard += 1
        try:
            return super().setdefault(key, value)
        finally:
            STATE.guard -= 1

    def __iter__(self):
        # Not a generator: the read is noted when the iteration starts, from the caller's frame.
        _record_iter()
        return super().__iter__()

    def copy(self):
        _record_iter()
        STATE.guard += 1
        try:
            return dict(self)
        finally:
            STATE.guard -= 1


def install_environ_tracer() -> None:
    """From now on every access to ``os.environ`` is recorded (unless ``STATE.guard`` is up)."""
    os.environ.__class__ = TracingEnviron


def _collapse_bulk_reads(reads: list[dict]) -> list[dict]:
    """More than 15 variables read from one line (a loop over many names, a bulk read the
    iteration record did not cover): keep one ``*`` entry for that site."""
    per_site: dict = {}
    for read in reads:
        per_site.setdefault((read["file"], read["line"], read["phase"]), set()).add(read["name"])
    bulk = {site for site, names in per_site.items() if len(names) > _BULK_READ_NAMES}
    out, seen = [], set()
    for read in reads:
        site = (read["file"], read["line"], read["phase"])
        if site in bulk:
            if site in seen:
                continue
            seen.add(site)
            read = dict(read, name="*", present=True)
        out.append(read)
    return out


def environ_section(key: bytes) -> dict:
    """The ``environ`` section: the start-up environment (redacted, fingerprinted), reads, writes."""
    variables = []
    for name in sorted(STATE.env_at_start):
        value = STATE.env_at_start[name]
        shown, secret = redact.redact_value(name, value)
        variables.append(
            {
                "name": name,
                "value": shown,
                "secret": secret,
                "fingerprint": redact.fingerprint(key, name + "\0" + value),
            }
        )
    return {
        "variables": variables,
        "reads": _collapse_bulk_reads(STATE.reads),
        "writes": STATE.writes,
        "fingerprint_key_id": redact.key_id(key),
    }
