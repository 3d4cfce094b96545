"""What ``tox --broker-audit`` compares with: resolving ``--broker-audit-baseline`` (docs/tox.md).

``auto`` looks for the developer's own environment — ``$VIRTUAL_ENV`` of the shell tox was
started from, then ``.venv`` / ``venv`` in the project, then ``python3`` on ``PATH`` — and
never picks a tox env (running tox from inside a tox env must not compare tox with itself).
An explicit value is a Python, a venv directory, a snapshot file or a directory of reference
snapshots (``DIR/<env>.json``, docs/ci.md). In CI with no developer env, ``auto`` compares with
nothing rather than with a bare interpreter: that is no one's local run, only noise.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Union

from tox_broker_audit._ci import detected_ci
from tox_broker_audit._errors import AuditError, ProbeError
from tox_broker_audit.snapshot.capture import resolve_python
from tox_broker_audit.snapshot.model import SCHEMA
from tox_broker_audit.snapshot.reference import no_reference_hint

__all__ = [
    "AUTO",
    "BaselinePlan",
    "LiveBaseline",
    "NoBaseline",
    "ReferenceDirBaseline",
    "SnapshotFileBaseline",
    "is_tox_env",
    "live_values",
    "plan_baseline",
    "plan_or_missing",
]

AUTO = "auto"
_PROJECT_VENVS = (".venv", "venv")


@dataclasses.dataclass(frozen=True)
class LiveBaseline:
    """An interpreter probed here and now, with ``environ`` (the environment the front door was
    started with). The only plan whose variables' *values* are known: the verify stage can set a
    variable to the baseline's value only from one of these."""

    python: str
    found_by: str
    environ: Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False, compare=False)


@dataclasses.dataclass(frozen=True)
class SnapshotFileBaseline:
    """A snapshot file, loaded as it is (values only as fingerprints; it cannot be re-run)."""

    path: Path
    found_by: str


@dataclasses.dataclass(frozen=True)
class ReferenceDirBaseline:
    """A directory of references, ``DIR/<env>.json``: each env is compared with its own (docs/ci.md)."""

    directory: Path
    found_by: str


@dataclasses.dataclass(frozen=True)
class NoBaseline:
    """Nothing to compare with: on purpose (a CI job with no developer env: one line, the
    single-snapshot checks run) or, with ``failure``, because ``auto`` found no environment
    (a BA901 finding). ``why`` is the one line."""

    why: str
    failure: bool = False


#: What an audit compares with: each kind its own type (``isinstance`` tells them apart).
BaselinePlan = Union[LiveBaseline, SnapshotFileBaseline, ReferenceDirBaseline, NoBaseline]


def live_values(plan: BaselinePlan) -> Mapping[str, str] | None:
    """The environment a live baseline ran with; None for every other plan."""
    return plan.environ if isinstance(plan, LiveBaseline) else None


def is_tox_env(path: Path, work_dir: Path) -> bool:
    """A directory tox created as an environment (any project's ``.tox/…``), not a developer's venv."""
    try:
        resolved = path.resolve()
    except OSError:
        return False
    if (resolved / ".tox-info.json").is_file():
        return True
    work = work_dir.resolve()
    return resolved == work or work in resolved.parents


def _venv_python(venv: Path) -> str | None:
    try:
        return resolve_python(str(venv))
    except ProbeError:
        return None


def _python_on_path(environ: Mapping[str, str], work_dir: Path) -> str | None:
    entries = [
        entry
        for entry in environ.get("PATH", "").split(os.pathsep)
        if entry and not is_tox_env(Path(entry).parent, work_dir)
    ]
    return shutil.which("python3", path=os.pathsep.join(entries))


def _holds_references(directory: Path) -> bool:
    """``directory`` has a snapshot saved in it (``<env>.json`` naming our schema near its start)."""
    marker = SCHEMA.encode()
    for candidate in sorted(directory.glob("*.json"))[:20]:
        try:
            with candidate.open("rb") as fh:
                if marker in fh.read(512):
                    return True
        except OSError:
            continue
    return False


def _is_reference_dir(path: Path, spec: str, *, configured: bool) -> bool:
    """A directory of references: one with a saved ``<env>.json`` in it, an empty one, or — in
    the config only — one not created yet (``broker_audit_baseline = ci/broker-audit`` before
    the first ``--broker-audit-save``; each env then says so in one line). A bare name is an
    interpreter on ``PATH`` on the command line; a path there must exist. A directory that is
    neither a venv nor holds references is a bad value (:class:`AuditError`), not an empty
    reference: the audit would otherwise run as if nothing were wrong."""
    if path.is_dir():
        if (path / "pyvenv.cfg").is_file() or _venv_python(path) is not None:
            return False
        try:
            empty = next(path.iterdir(), None) is None
        except OSError as exc:
            msg = f"{spec} cannot be read: {exc.strerror or exc}"
            raise AuditError(msg) from None
        if empty or _holds_references(path):
            return True
        message = (
            f"{spec} is neither a venv (no bin/python in it) nor a reference directory "
            "(no <env>.json snapshot in it)"
        )
        raise AuditError(message)
    if path.exists() or path.suffix or path.name.startswith(("python", "pypy")):
        return False  # a missing interpreter stays "interpreter not found"
    if configured:
        return True
    if "/" in spec or os.sep in spec:
        message = f"{spec} does not exist (save references there first: --broker-audit-save={spec})"
        raise AuditError(message)
    return False


def plan_baseline(
    spec: str,
    *,
    tox_root: Path,
    work_dir: Path,
    environ: Mapping[str, str],
    base: Path | None = None,
) -> BaselinePlan:
    """Resolve ``spec`` (a relative path: against ``base``, given for a value of the config,
    else the cwd); raises :class:`AuditError` (one line) when nothing fits.

    For ``auto`` the error means "no local environment found" (reported as BA901); for an
    explicit value it is a bad option value.
    """
    if spec == AUTO:
        return _plan_auto(tox_root=tox_root, work_dir=work_dir, environ=environ)
    try:
        return _plan_explicit(spec, environ, base)
    except OSError as exc:  # a path the user may not read: one line
        message = f"cannot use {spec}: {exc.strerror or exc}"
        raise AuditError(message) from None


def _plan_explicit(spec: str, environ: Mapping[str, str], base: Path | None) -> BaselinePlan:
    configured = base is not None
    base = base or Path.cwd()
    path = Path(spec).expanduser()
    path = path if path.is_absolute() else base / path
    if _is_reference_dir(path, spec, configured=configured):
        return ReferenceDirBaseline(path, found_by=f"references in {spec}")
    if path.suffix == ".json" or (path.is_file() and not os.access(path, os.X_OK)):
        if not path.is_file():
            msg = f"snapshot file not found: {path}"
            raise AuditError(msg)
        return SnapshotFileBaseline(path, found_by=f"snapshot file {path}")
    python = resolve_python(str(path) if path.exists() else spec)  # else a name on PATH
    kind = "venv" if path.is_dir() else "interpreter"
    return LiveBaseline(python, f"{kind} {spec} (--broker-audit-baseline)", dict(environ))


def _plan_auto(*, tox_root: Path, work_dir: Path, environ: Mapping[str, str]) -> BaselinePlan:
    active = environ.get("VIRTUAL_ENV")
    skipped: list[str] = []
    if active:
        venv = Path(active)
        if is_tox_env(venv, work_dir):
            skipped.append(f"$VIRTUAL_ENV={active} is a tox env")
        else:
            python = _venv_python(venv)
            if python is not None:
                return LiveBaseline(python, f"$VIRTUAL_ENV ({active})", dict(environ))
            skipped.append(f"$VIRTUAL_ENV={active} has no interpreter")
    for name in _PROJECT_VENVS:
        venv = tox_root / name
        if venv.is_dir() and not is_tox_env(venv, work_dir):
            python = _venv_python(venv)
            if python is not None:
                return LiveBaseline(python, f"{name} in the project ({venv})", dict(environ))
    ci = detected_ci(environ)
    if ci is not None:
        return NoBaseline(no_reference_hint(f"${ci} is set, no developer env"))
    python = _python_on_path(environ, work_dir)
    if python is not None:
        return LiveBaseline(python, f"python3 on PATH ({python})", dict(environ))
    why = "; ".join(skipped) + "; " if skipped else ""
    msg = (
        f"no local environment found for the baseline ({why}no .venv/venv in {tox_root}, "
        "no python3 on PATH); pass --broker-audit-baseline=PYTHON|VENV|SNAPSHOT.json"
    )
    raise ProbeError(msg)


def plan_or_missing(
    spec: str,
    *,
    tox_root: Path,
    work_dir: Path,
    environ: Mapping[str, str],
    base: Path | None = None,
    option: str = "--broker-audit-baseline",
) -> BaselinePlan:
    """:func:`plan_baseline` for a front door: an explicit value that fits nothing is an
    :class:`AuditError` naming ``option`` (a bad option); ``auto`` finding nothing is a
    :class:`NoBaseline` ``failure`` (the audit goes on, with a BA901 finding)."""
    try:
        return plan_baseline(spec or AUTO, tox_root=tox_root, work_dir=work_dir, environ=environ, base=base)
    except AuditError as exc:
        message = str(exc).replace("--broker-audit-baseline", option)
        if spec and spec != AUTO:
            raise AuditError(message) from None
        return NoBaseline(message, failure=True)
