"""nox front door: ``tox_broker_audit.nox.audit(session, baseline=…)`` inside a session.

nox has no plugin system, so the audit is a function the noxfile calls after
``session.install(...)``. It snapshots the session's venv as ``session.run("pytest", …)``
would run it — the venv's interpreter, ``os.environ`` + ``session.env`` with the venv's
``bin`` first on ``PATH``, the current directory (nox's default: the noxfile's directory) —
compares it with the developer's own environment, prints the report and writes the same
artefacts as the tox plugin into ``{session venv}/broker-audit/``. See ``docs/nox.md``.

The module imports nothing heavy at import time (nox itself only for type checking): the
noxfile imports it on every ``nox`` run, audited session or not.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import nox

    from tox_broker_audit._audit import Captured, OutputOptions
    from tox_broker_audit.diagnosis.model import Report
    from tox_broker_audit.snapshot.baseline import BaselinePlan
    from tox_broker_audit.snapshot.capture import ProbeRequest
    from tox_broker_audit.snapshot.model import Snapshot

__all__ = ["audit"]

_INVOCATIONS = ("pytest", "python-m")


def audit(
    session: nox.Session,
    *,
    baseline: str | os.PathLike[str] = "auto",
    formats: Sequence[str] = ("terminal",),
    fail_on: str = "never",
    pytest_args: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    invocation: str = "pytest",
    verbose: bool = False,
    verify: str = "auto",
    verify_budget: str = "12/60",
) -> Report | None:
    """Audit this session's environment against the local one; return the report.

    ``baseline``: ``auto`` (``$VIRTUAL_ENV``, then ``.venv``/``venv`` next to the noxfile,
    then ``python3`` on ``PATH``; never a nox or tox env), a Python, a venv directory or a
    snapshot file. ``formats``: as ``--broker-audit-format`` (the CI's annotation format is
    added). ``fail_on``: ``never`` | ``error`` | ``warning`` — ``session.error`` when a
    finding is at or above it. ``pytest_args``: your pytest run's arguments (``session.posargs``;
    ``-n``, ``--cov`` dropped). ``invocation``, ``verify``, ``verify_budget``: see docs/nox.md.

    A snapshot that cannot be taken is a BA901 finding and one warning, never an exception;
    bad arguments end the session through ``session.error``. Returns ``None`` only when the
    audit itself failed (one warning says why).
    """
    from tox_broker_audit import _audit
    from tox_broker_audit._errors import AuditError

    environ, modes = dict(os.environ), (invocation, verify, str(verify_budget))
    try:
        chosen, plan, plan_error = _check(session, environ, baseline, formats, fail_on, modes)
    except AuditError as exc:  # session.error raises: the session ends here
        session.error(f"broker-audit: {exc}")
    output = _audit.OutputOptions(
        formats=chosen,
        verbose=verbose,
        root=_audit.ci_root(environ, str(_project_root(session))),
        config_file=_noxfile(session),
    )
    try:
        report = _run(
            session,
            plan,
            plan_error,
            environ,
            output,
            args=tuple(pytest_args or ()),
            ignore=tuple(ignore),
            modes=modes,
        )
    except Exception as exc:  # noqa: BLE001 - never let the audit break the run (docs/architecture.md)
        session.warn(
            f"broker-audit: {session.name}: internal error, audit skipped: {type(exc).__name__}: {exc}"
        )
        return None
    failing = _audit.count_failing(report, fail_on)
    if failing:
        session.error(f"broker audit: {failing} finding(s) at or above fail_on={fail_on}")
    return report


def _check(  # noqa: PLR0917 - audit()'s keyword arguments, checked in one place
    session: nox.Session,
    environ: dict[str, str],
    baseline: str | os.PathLike[str],
    formats: Sequence[str],
    fail_on: str,
    modes: tuple[str, str, str],
) -> tuple[tuple[str, ...], BaselinePlan | None, str]:
    """audit()'s arguments, validated: the formats, the baseline plan (or why there is none).
    A bad value is an :class:`AuditError` naming the keyword."""
    from tox_broker_audit import _audit
    from tox_broker_audit._errors import AuditError

    if fail_on not in _audit.FAIL_ON:
        raise AuditError(f"fail_on={fail_on!r} (choose from {', '.join(_audit.FAIL_ON)})")
    invocation, verify, budget = modes
    if invocation not in _INVOCATIONS:
        raise AuditError(f"invocation={invocation!r} (choose from {', '.join(_INVOCATIONS)})")
    if verify not in ("auto", "off", "always"):
        raise AuditError(f"verify={verify!r} (choose from auto, off, always)")
    from tox_broker_audit.verify.stage import parse_budget

    try:
        parse_budget(budget)
    except AuditError:
        raise AuditError(f"verify_budget={budget!r} (expected RUNS or RUNS/SECONDS, e.g. 12/60)") from None
    chosen = _audit.choose_formats([formats] if isinstance(formats, str) else formats, environ)
    _audit.check_formats(chosen, "format")
    plan, plan_error = _plan(session, os.fspath(baseline), environ)
    return chosen, plan, plan_error


def _plan(session: nox.Session, spec: str, environ: dict[str, str]) -> tuple[BaselinePlan | None, str]:
    """An explicit baseline must exist (else :class:`AuditError`); ``auto`` finding nothing is BA901."""
    from tox_broker_audit._errors import AuditError
    from tox_broker_audit.snapshot.baseline import AUTO, plan_baseline

    try:
        plan = plan_baseline(
            spec or AUTO,
            tox_root=_project_root(session),
            # nox keeps its envs under one directory (``.nox``): none of them is a baseline.
            work_dir=_env_location(session).parent,
            environ=environ,
        )
    except AuditError as exc:
        # plan_baseline speaks tox's option name; here it is audit()'s keyword.
        message = str(exc).replace("--broker-audit-baseline", "baseline")
        if spec and spec != AUTO:
            raise AuditError(message) from None
        return None, message
    return plan, ""


def _run(
    session: nox.Session,
    plan: BaselinePlan | None,
    plan_error: str,
    environ: dict[str, str],
    output: OutputOptions,
    *,
    args: tuple[str, ...],
    ignore: tuple[str, ...],
    modes: tuple[str, str, str],
) -> Report:
    from tox_broker_audit import _audit
    from tox_broker_audit._command import collection_args, selection_args
    from tox_broker_audit.snapshot.capture import fingerprint_key

    name, (invocation, verify, budget) = session.name, modes
    out_dir = _env_location(session) / _audit.ARTEFACT_DIR
    _audit.reset_dir(out_dir)
    key = fingerprint_key()
    root = _project_root(session)
    keep: list[ProbeRequest] = []  # the target's request, for the verify stage's re-probes
    # The baseline probe runs while the target probe runs (two interpreters, no shared state).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="broker-audit-baseline") as pool:
        collect = collection_args(args)
        selection = selection_args(collect, os.getcwd())
        pending = pool.submit(
            _audit.take_baseline, plan, plan_error, environ, root, key, selection, env_name=name
        )
        captured = _audit.capture(
            name,
            lambda: _take_target(session, environ, collect, invocation, root, key, keep),
            pending.result,
            target_words="the session's env",
        )
    note = _audit.selection_note(name, captured.baseline, captured.target, root)
    for line in (*captured.lines, *([note] if note else [])):
        session.warn(line)
    lines: list[str] = []
    report = _audit.finish(
        name,
        out_dir,
        captured.baseline,
        captured.target,
        list(captured.failures),
        lines,
        ignore=ignore,
        output=output,
        verify=_verifier(
            (verify, budget), captured, keep, environ if plan and not plan.snapshot_file else None, root
        ),
    )
    from tox_broker_audit._job_summary import publish

    lines.extend(publish(environ, out_dir / "report.md"))
    # nox's logger prefixes every record with "nox > "; the report is a block of its own.
    from tox_broker_audit._files import printable

    sys.stdout.write(printable("\n".join(lines)) + "\n")
    sys.stdout.flush()
    return report


def _take_target(  # noqa: PLR0917 - one private call site
    session: nox.Session,
    environ: dict[str, str],
    args: tuple[str, ...],
    invocation: str,
    root: Path,
    key: bytes,
    keep: list[ProbeRequest],
) -> Snapshot:
    from tox_broker_audit.snapshot.capture import ProbeRequest, take_snapshot
    from tox_broker_audit.snapshot.model import Source

    shown = "python -m pytest" if invocation == "python-m" else "pytest"
    keep.append(
        ProbeRequest(
            python=_session_python(session),
            cwd=Path.cwd(),  # session.run() runs commands here (nox starts in the noxfile's dir)
            env=_command_environment(session, environ),
            invocation="python-m" if invocation == "python-m" else "pytest",
            pytest_args=args,
            source=Source(
                kind="nox-session",
                name=session.name,
                description=f"nox session {session.name}: {' '.join((shown, *args))}",
            ),
            project_root=root,
            key=key,
        )
    )
    return take_snapshot(keep[-1])


def _verifier(
    modes: tuple[str, str],
    captured: Captured,
    keep: list[ProbeRequest],
    values: dict[str, str] | None,
    root: Path,
) -> Callable[[Report], Report] | None:
    """The verify stage for this session (docs/nox.md): re-probes of the target's own request."""
    mode, budget = modes
    if mode == "off" or not keep:
        return None
    from tox_broker_audit.verify.stage import parse_budget, verify

    def stage(report: Report) -> Report:
        return verify(
            report,
            captured.baseline,
            captured.target,
            keep[0],
            values,
            str(root),
            mode=mode,
            budget=parse_budget(budget),
        )

    return stage


def _command_environment(session: nox.Session, environ: dict[str, str]) -> dict[str, str]:
    """What ``session.run`` gives a command: ``os.environ`` + ``session.env`` (a ``None`` value
    unsets), with the venv's bin directories first on ``PATH`` (nox's ``ProcessEnv._get_env``)."""
    merged: dict[str, str | None] = {**environ, **session.env}
    env = {name: value for name, value in merged.items() if value is not None}
    bin_paths = session.bin_paths if session.venv_backend != "none" else None
    if bin_paths:
        env["PATH"] = os.pathsep.join([*bin_paths, *([env["PATH"]] if env.get("PATH") else [])])
    return env


def _session_python(session: nox.Session) -> str:
    """The session venv's interpreter. ``venv_backend="none"`` has no venv: commands run with
    what is on ``PATH``, so it is the ``python`` there (``session.run("python", …)``), else
    the interpreter running nox."""
    from tox_broker_audit._errors import AuditError

    if session.venv_backend == "none":
        return shutil.which("python3") or shutil.which("python") or sys.executable
    for directory in session.bin_paths or ():
        for exe in ("python", "python3", "python.exe"):
            candidate = Path(directory) / exe
            if candidate.is_file():
                return str(candidate)
    raise AuditError(f"no Python interpreter in the session's env ({', '.join(session.bin_paths or ())})")


def _env_location(session: nox.Session) -> Path:
    """The session's venv directory (also for ``venv_backend="none"``: nox's would-be env dir,
    relative to the noxfile's directory as nox's ``--envdir`` is, whatever the cwd is now)."""
    location = getattr(session.virtualenv, "location", None)
    return Path(location) if location else _project_root(session) / session.env_dir


def _noxfile(session: nox.Session) -> str | None:
    """The noxfile being run. nox has no public accessor: read it defensively."""
    config = getattr(getattr(session, "_runner", None), "global_config", None)
    noxfile = getattr(config, "noxfile", None)
    return os.path.realpath(noxfile) if isinstance(noxfile, str) else None


def _project_root(session: nox.Session) -> Path:
    """Where plain ``pytest`` runs locally: the noxfile's directory (nox runs sessions there,
    as tox runs from its root), else where nox was invoked from."""
    noxfile = _noxfile(session)
    return Path(noxfile).parent if noxfile else Path(session.invoked_from)
