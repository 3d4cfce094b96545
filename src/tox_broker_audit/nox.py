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

import dataclasses
import os
import shutil
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from tox_broker_audit._options import DEFAULT_BUDGET  # a leaf: nothing heavy at import time

if TYPE_CHECKING:
    import nox

    from tox_broker_audit._audit import AuditResult
    from tox_broker_audit._options import Budget
    from tox_broker_audit.diagnosis.model import Report
    from tox_broker_audit.snapshot.baseline import BaselinePlan
    from tox_broker_audit.snapshot.capture import ProbeRequest

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
    verify_budget: str = DEFAULT_BUDGET,
    oracle: str = "auto",
    fix: str = "off",
) -> Report | None:
    """Audit this session's environment against the local one; return the report.

    ``baseline``: ``auto`` (``$VIRTUAL_ENV``, then ``.venv``/``venv`` next to the noxfile,
    then ``python3`` on ``PATH``; never a nox or tox env), a Python, a venv directory or a
    snapshot file. ``formats``: as ``--broker-audit-format`` (the CI's annotation format is
    added). ``fail_on``: ``never`` | ``error`` | ``warning`` — ``session.error`` when a
    finding is at or above it. ``pytest_args``: your pytest run's arguments (``session.posargs``;
    ``-n``, ``--cov`` dropped). ``invocation``, ``verify``, ``verify_budget``: see docs/nox.md.
    ``oracle``: ``tests`` re-runs the tests that failed in the session's last pytest run (its
    ``lastfailed``) with each difference undone; ``auto``/``collection``: the collection decides
    (nox does not tell the audit whether the session's tests failed). ``fix``: ``diff`` prints
    what the confirmed causes' fix adds to the session function, as a diff of the noxfile (a
    noxfile is code: it is never written; docs/nox.md).

    A snapshot that cannot be taken is a BA901 finding and one warning, never an exception;
    bad arguments end the session through ``session.error``. Returns ``None`` only when the
    audit itself failed (one warning says why).
    """
    from tox_broker_audit._errors import AuditError

    environ = dict(os.environ)
    try:
        job = _job(session, environ, baseline, formats, fail_on, (invocation, verify, str(verify_budget)))
        job = dataclasses.replace(job, oracle=_checked_oracle(oracle))
        _checked_fix(fix)
    except AuditError as exc:  # session.error raises: the session ends here
        session.error(f"broker-audit: {exc}")
    try:
        result = _run(session, job, tuple(pytest_args or ()), ignore=tuple(ignore), verbose=verbose)
    except Exception as exc:  # noqa: BLE001 - never let the audit break the run (docs/architecture.md)
        session.warn(
            f"broker-audit: {session.name}: internal error, audit skipped: {type(exc).__name__}: {exc}"
        )
        return None
    if fix == "diff":
        _show_fix(session, result.report)
    if result.failing:
        session.error(f"broker audit: {result.failing} finding(s) at or above fail_on={fail_on}")
    return result.report


def _checked_fix(fix: str) -> str:
    from tox_broker_audit._options import check_choice

    return check_choice(fix, ("off", "diff"), "fix")


def _session_function_line(session: nox.Session) -> int | None:
    """Where the session's function starts (nox has no public accessor: read it defensively)."""
    import inspect

    func = getattr(getattr(getattr(session, "_runner", None), "func", None), "func", None)
    try:
        code = inspect.unwrap(func).__code__ if func is not None else None
    except (AttributeError, ValueError):
        return None
    return code.co_firstlineno if code is not None else None


def _show_fix(session: nox.Session, report: Report) -> None:
    """``fix="diff"``: each confirmed cause's statement at the top of the session, as a diff."""
    import difflib

    from tox_broker_audit._files import printable
    from tox_broker_audit.fix import confirmed_changes
    from tox_broker_audit.fix._nox import session_line, with_lines

    noxfile, first = _noxfile(session), _session_function_line(session)
    lines: list[str] = []
    other: list[str] = []
    for finding, change in confirmed_changes(report):
        line = session_line(*change) if change is not None else None
        (lines if line else other).append(line or finding.fix)
    text = Path(noxfile).read_text(encoding="utf-8") if noxfile and os.path.isfile(noxfile) else None
    after = with_lines(text, first, lines) if text is not None and first and lines else None
    if text is not None and after is not None:
        shown = os.path.relpath(str(noxfile))
        diff = difflib.unified_diff(
            text.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{shown}", f"b/{shown}"
        )
        sys.stdout.write(printable("".join(diff)))
    elif lines:
        other.extend(lines)
    for words in other:
        session.log(printable(f"broker-audit: fix: {words}"))
    if not lines and not other:
        session.log("broker-audit: fix: no confirmed cause to show")


def _job(  # noqa: PLR0917 - audit()'s keyword arguments, checked in one place
    session: nox.Session,
    environ: dict[str, str],
    baseline: str | os.PathLike[str],
    formats: Sequence[str],
    fail_on: str,
    modes: tuple[str, str, str],
) -> _Checked:
    """audit()'s arguments, validated: the formats, the baseline plan, the verify mode and
    budget. A bad value is an :class:`AuditError` naming the keyword."""
    from tox_broker_audit._errors import AuditError
    from tox_broker_audit._options import FAIL_ON, VERIFY_MODES, check_choice, parse_budget
    from tox_broker_audit._outputs import check_formats, choose_formats
    from tox_broker_audit.snapshot.baseline import plan_or_missing

    invocation, verify, budget = modes
    check_choice(fail_on, FAIL_ON, "fail_on")
    check_choice(invocation, _INVOCATIONS, "invocation")
    check_choice(verify, VERIFY_MODES, "verify")
    try:
        parsed = parse_budget(budget)
    except AuditError:
        message = f"verify_budget={budget!r} (expected RUNS or RUNS/SECONDS, e.g. {DEFAULT_BUDGET})"
        raise AuditError(message) from None
    chosen = choose_formats([formats] if isinstance(formats, str) else formats, environ)
    check_formats(chosen, "format")
    plan = plan_or_missing(
        os.fspath(baseline),
        tox_root=_project_root(session),
        # nox keeps its envs under one directory (``.nox``): none of them is a baseline.
        work_dir=_env_location(session).parent,
        environ=environ,
        option="baseline",  # plan_baseline speaks tox's option name; here it is audit()'s keyword
    )
    return _Checked(plan, chosen, fail_on, invocation, verify, parsed, environ)


def _checked_oracle(oracle: str) -> str:
    from tox_broker_audit._options import ORACLES, check_choice

    return check_choice(oracle, ORACLES, "oracle")


@dataclasses.dataclass(frozen=True)
class _Checked:
    """audit()'s arguments once checked."""

    plan: BaselinePlan
    formats: tuple[str, ...]
    fail_on: str
    invocation: str
    verify: str
    budget: Budget
    environ: dict[str, str]
    oracle: str = "auto"


def _run(
    session: nox.Session, job: _Checked, args: tuple[str, ...], *, ignore: tuple[str, ...], verbose: bool
) -> AuditResult:
    from tox_broker_audit import _audit, _outputs
    from tox_broker_audit._ci import ci_root
    from tox_broker_audit._command import collection_args, selection_args
    from tox_broker_audit._files import printable
    from tox_broker_audit.diagnosis.hooks import RenderOptions
    from tox_broker_audit.snapshot.capture import fingerprint_key

    name, root, key = session.name, _project_root(session), fingerprint_key()
    out_dir = _env_location(session) / _outputs.ARTEFACT_DIR
    _outputs.reset_dir(out_dir)
    collect = collection_args(args)
    selection = selection_args(collect, os.getcwd())
    # The baseline probe runs while the target probe runs (two interpreters, no shared state).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="broker-audit-baseline") as pool:
        pending = pool.submit(_audit.take_baseline, job.plan, root, key, selection, env_name=name)
        result = _audit.run_audit(
            _audit.AuditJob(
                name=name,
                root=root,
                plan=job.plan,
                target=lambda: _target_request(session, job, collect, root, key),
                baseline=pending.result,
                output=RenderOptions(
                    formats=job.formats,
                    verbose=verbose,
                    color=None,
                    root=ci_root(job.environ, str(root)),
                    config_file=_noxfile(session),
                ),
                out_dir=out_dir,
                environ=job.environ,
                ignore=ignore,
                verify=job.verify,
                budget=job.budget,
                fail_on=job.fail_on,
                oracle=job.oracle,
                target_words="the session's env",
            )
        )
    for line in result.notices:
        session.warn(line)
    # nox's logger prefixes every record with "nox > "; the report is a block of its own.
    sys.stdout.write(printable("\n".join(result.lines)) + "\n")
    sys.stdout.flush()
    return result


def _target_request(
    session: nox.Session, job: _Checked, args: tuple[str, ...], root: Path, key: bytes
) -> ProbeRequest:
    from tox_broker_audit.snapshot.capture import ProbeRequest
    from tox_broker_audit.snapshot.model import Source

    shown = "python -m pytest" if job.invocation == "python-m" else "pytest"
    return ProbeRequest(
        python=_session_python(session),
        cwd=Path.cwd(),  # session.run() runs commands here (nox starts in the noxfile's dir)
        env=_command_environment(session, job.environ),
        invocation="python-m" if job.invocation == "python-m" else "pytest",
        pytest_args=args,
        source=Source(
            kind="nox-session",
            name=session.name,
            description=f"nox session {session.name}: {' '.join((shown, *args))}",
        ),
        project_root=root,
        key=key,
    )


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
    msg = f"no Python interpreter in the session's env ({', '.join(session.bin_paths or ())})"
    raise AuditError(msg)


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
