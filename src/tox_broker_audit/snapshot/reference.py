"""Reference snapshots for CI drift checks (docs/ci.md): saved per env, compared with later.

``--broker-audit-save=DIR`` writes each env's target snapshot as ``DIR/<env>.json``; the
repository commits it; ``--broker-audit-baseline=DIR`` (or ``broker_audit_baseline = DIR`` in
tox's core configuration) compares each env with its own file. A loaded reference says what it
is — ``the reference ci/broker-audit/py312.json (saved 2026-11-20, Python 3.12.7)`` — so the
report never calls a committed file "locally".
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from tox_broker_audit._errors import NothingToCompareError
from tox_broker_audit.snapshot.io import dump_snapshot, load_snapshot
from tox_broker_audit.snapshot.model import Snapshot, Source

__all__ = [
    "as_reference",
    "load_reference",
    "no_reference_hint",
    "reference_file",
    "save_reference",
]

_SAVE_EXAMPLE = "ci/broker-audit"


def reference_file(directory: Path, env_name: str) -> Path:
    """``DIR/<env>.json`` (an env name is a file name: tox allows no path separator in it)."""
    return directory / f"{env_name.replace(os.sep, '_')}.json"


def shown(path: Path, root: Path) -> str:
    """``path`` relative to the project ``root`` when inside it (``/``-separated), else as is."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def as_reference(snapshot: Snapshot, label: str) -> Snapshot:
    """A saved tox env snapshot, labelled as the reference it now is (other files keep their
    source: a ``broker-audit snapshot`` of the local venv is still "locally")."""
    if snapshot.meta.source.kind != "tox-env":
        return snapshot
    when = snapshot.meta.created[:10]
    description = f"the reference {label} (saved {when}, Python {snapshot.interpreter.version})"
    source = Source(kind="reference", name=label, description=description)
    return dataclasses.replace(snapshot, meta=dataclasses.replace(snapshot.meta, source=source))


def no_reference_hint(why: str, directory: str = _SAVE_EXAMPLE) -> str:
    """The one line for "nothing to compare with": why, and how to set a reference."""
    return (
        f"no reference to compare with ({why}): single-snapshot checks only; to check drift, save one "
        f"with `tox --broker-audit --broker-audit-save={directory}`, commit it and set "
        f"broker_audit_baseline = {directory} in [tox] (docs/ci.md)"
    )


def load_reference(directory: Path, env_name: str, root: Path) -> Snapshot:
    """``DIR/<env>.json`` as a reference; :class:`NothingToCompareError` when it is not there."""
    path = reference_file(directory, env_name)
    label = shown(path, root)
    if not path.is_file():
        raise NothingToCompareError(no_reference_hint(f"{label} does not exist", shown(directory, root)))
    return as_reference(load_snapshot(path), label)


def save_reference(snapshot: Snapshot, directory: Path, env_name: str) -> Path:
    """Write ``snapshot`` as ``DIR/<env>.json`` (creating ``DIR``); :class:`OSError` as is."""
    path = reference_file(directory, env_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    dump_snapshot(snapshot, path)
    return path
