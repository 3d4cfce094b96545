"""The work behind ``tox --broker-audit``: options, env keys, probes, report, artefacts.

``tox_plugin`` only forwards tox's hooks here. One :class:`AuditRun` lives per tox
invocation (keyed by tox's core configuration, so tox's in-process test fixtures that run
tox many times never share state). Its baseline snapshot is taken once, in a background
thread started as soon as the options are known, while tox sets up the envs; every env —
also under ``tox run-parallel``, whose envs are threads of this same process — joins it
when its own commands are done.

Never let the audit break the user's run (docs/architecture.md): every probe or diagnosis failure
becomes a BA901 finding and one clear line; only ``--broker-audit-fail-on`` changes the
env's result. A bad option value is a tox error (``HandledError``) at start-up.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tox_broker_audit import _audit, _outputs
from tox_broker_audit._errors import AuditError
from tox_broker_audit._options import (
    DEFAULT_BUDGET,
    FAIL_ON,
    FIX_MODES,
    ORACLES,
    VERIFY_MODES,
    Budget,
    check_choice,
    parse_budget,
)
from tox_broker_audit._tox.commands import collection, not_emulated_line, target_request

if TYPE_CHECKING:
    from tox.config.cli.parser import Parsed
    from tox.config.sets import ConfigSet
    from tox.session.state import State
    from tox.tox_env.api import ToxEnv

    from tox_broker_audit.diagnosis.hooks import RenderOptions
    from tox_broker_audit.diagnosis.model import Report
    from tox_broker_audit.snapshot.baseline import BaselinePlan
    from tox_broker_audit.snapshot.model import Snapshot

__all__ = [
    "AuditRun",
    "after_commands",
    "before_commands",
    "on_install",
    "start",
]

#: Where else a bad option value may come from (tox reads each option from three places).
_FROM_ELSEWHERE = " (from the command line, its TOX_ environment variable or the tox user config)"
#: ``tox <command>`` names whose envs run their commands (others never reach the hooks).
_RUN_COMMANDS = frozenset({"legacy", "le", "run", "r", "run-parallel", "p"})


# --------------------------------------------------------------------------- one tox invocation


class AuditRun:
    """The audit of one tox invocation: options, the shared baseline, install records."""

    def __init__(
        self,
        options: Parsed,
        *,
        tox_root: Path,
        work_dir: Path,
        config_file: Path | None,
        configured_baseline: str = "",
    ) -> None:
        self.options = options
        #: ``broker_audit_baseline`` of tox's core configuration (relative to the tox root).
        self.configured_baseline = configured_baseline
        self.tox_root = tox_root
        self.work_dir = work_dir
        self.config_file = config_file
        #: The environment tox was started with: the baseline runs with it (docs/tox.md).
        self.environ: dict[str, str] = dict(os.environ)
        self.fail_on: str = options.broker_audit_fail_on
        self.formats = _outputs.choose_formats(options.broker_audit_format, self.environ)
        #: Per env, the kinds of package tox installed (``WheelPackage``, ``EditablePackage``…).
        self.package_kinds: dict[str, list[str]] = {}
        self._key: bytes | None = None
        self._lock = threading.Lock()
        self._plan: BaselinePlan | None = None
        self._thread: threading.Thread | None = None
        self._baseline: Snapshot | None = None
        self._baseline_error: AuditError | None = None
        self._baseline_seconds = 0.0
        #: The background probe only reads plain pytest's configuration (rootdir, ini file):
        #: every env is expected to select tests, each comparing with its own selected baseline.
        self.config_only = False
        self._config: Snapshot | None = None
        self._plain_lock = threading.Lock()
        #: Baselines of other test selections than plain ``pytest`` (by selection), taken on demand.
        self._selected: dict[tuple[str, ...], Snapshot] = {}
        self._selected_lock = threading.Lock()
        self._saved = False
        #: When each env's commands started (``time.time()``): the oracle's pytest cache must be newer.
        self.commands_started: dict[str, float] = {}
        #: ``tox … -- ARGS``: the fix's re-run gets them too (``_tox/fixing.py``).
        self.pos_args: tuple[str, ...] = ()
        #: ``--broker-audit-fix=apply``: one env writes and re-runs at a time; each config file's
        #: text before this invocation wrote into it.
        self.fix_lock = threading.Lock()
        self.originals: dict[str, str] = {}

    # -- set-up ------------------------------------------------------------------------------

    def plan(self) -> None:
        """Resolve the baseline option now: a bad explicit value is a tox error, not a finding."""
        from tox_broker_audit.snapshot.baseline import AUTO, plan_or_missing

        spec: str = self.options.broker_audit_baseline or AUTO
        base = None
        if spec == AUTO and self.configured_baseline:  # the option given on the command line wins
            spec, base = self.configured_baseline, self.tox_root
        self._plan = plan_or_missing(
            spec, tox_root=self.tox_root, work_dir=self.work_dir, environ=self.environ, base=base
        )

    @property
    def baseline_plan(self) -> BaselinePlan:
        """What every env is compared with (:meth:`plan` ran at start-up)."""
        if self._plan is None:
            self.plan()
        assert self._plan is not None
        return self._plan

    @property
    def key(self) -> bytes:
        """One fingerprint key for the baseline and every target, so their values compare."""
        with self._lock:
            if self._key is None:
                from tox_broker_audit.snapshot.capture import fingerprint_key

                self._key = fingerprint_key()
            return self._key

    def start_baseline(self) -> None:
        """Start the baseline in the background (idempotent); it runs while tox sets up envs."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._take_baseline, name="broker-audit-baseline", daemon=True
            )
        self._thread.start()

    def _take_baseline(self) -> None:
        from tox_broker_audit.snapshot.baseline import ReferenceDirBaseline

        started = time.monotonic()
        if isinstance(self.baseline_plan, ReferenceDirBaseline):
            return  # one reference per env, loaded by each env
        if self.config_only:
            with contextlib.suppress(AuditError):  # the plain baseline, taken when needed, says why
                plan, root = self.baseline_plan, self.tox_root
                self._config = _audit.take_baseline(plan, root, self.key, config_only=True, background=True)
            return
        self._take_plain(started, background=True)
        if self._baseline is not None:
            _prepare(self._baseline)

    def _take_plain(self, started: float, *, background: bool = False) -> None:
        try:
            self._baseline = _audit.take_baseline(
                self.baseline_plan, self.tox_root, self.key, background=background
            )
        except AuditError as exc:
            self._baseline_error = exc
        finally:
            self._baseline_seconds = time.monotonic() - started

    def baseline(self) -> Snapshot:
        """The baseline snapshot (waits for the background probe); :class:`AuditError` if none."""
        self.start_baseline()
        assert self._thread is not None
        self._thread.join()
        with self._plain_lock:  # after a configuration-only background probe: taken now, once
            if self.config_only and self._baseline is None and self._baseline_error is None:
                self._take_plain(time.monotonic())
        if self._baseline is None:
            raise self._baseline_error or AuditError("the baseline could not be taken")
        return self._baseline

    def baseline_for(
        self, selection: tuple[str, ...], env_name: str = "", *, background: bool = False
    ) -> Snapshot:
        """The baseline collecting the same tests as an env whose command selects ``selection``
        (paths, ``-k``, ``-m``), with the configuration plain ``pytest`` finds (test paths would
        otherwise move pytest's rootdir and ini file discovery: a difference tox did not make).
        A snapshot file cannot be re-run: it is what it is, and so is an env's reference."""
        from tox_broker_audit.snapshot.baseline import LiveBaseline, ReferenceDirBaseline

        plan = self.baseline_plan
        if isinstance(plan, ReferenceDirBaseline):
            return _audit.take_baseline(plan, self.tox_root, b"", env_name=env_name)
        if not selection or not isinstance(plan, LiveBaseline):
            return self.baseline()
        with self._selected_lock:  # run-parallel envs with the same selection share one probe
            if selection not in self._selected:
                self._selected[selection] = self._take_selected(plan, selection, background)
            return self._selected[selection]

    def _configured(self) -> Snapshot:
        """What plain ``pytest`` configures (rootdir, ini file): the background probe's, or the
        plain baseline's when the configuration-only probe failed."""
        self.start_baseline()
        assert self._thread is not None
        self._thread.join()
        return self._config if self._config is not None else self.baseline()

    def prefetch(self, selection: tuple[str, ...], env_name: str) -> None:
        """Take an env's selected baseline in the background while its commands run."""
        from tox_broker_audit.snapshot.baseline import LiveBaseline

        if selection and isinstance(self.baseline_plan, LiveBaseline):
            threading.Thread(
                target=self._prefetch, args=(selection, env_name), name="broker-audit-selected", daemon=True
            ).start()

    def _prefetch(self, selection: tuple[str, ...], env_name: str) -> None:
        with contextlib.suppress(Exception):  # the env's own call after its commands says why
            _prepare(self.baseline_for(selection, env_name, background=True))

    def _take_selected(self, plan: BaselinePlan, selection: tuple[str, ...], background: bool) -> Snapshot:
        """Taken at once, beside the configuration-only probe (not after it); only when the
        selection moved pytest's rootdir or ini file (a test directory with its own ini file)
        is it taken again, pinned to what plain ``pytest`` configures."""
        root, key = self.tox_root, self.key
        try:
            chosen: Snapshot | None = _audit.take_baseline(plan, root, key, selection, background=background)
        except AuditError:
            chosen = None
        config = self._configured().pytest
        wanted = (config.rootdir, config.inifile)
        if chosen is not None and (chosen.pytest.rootdir, chosen.pytest.inifile) == wanted:
            return chosen
        pinned = (
            *(("--rootdir", config.rootdir) if config.rootdir else ()),
            *(("-c", config.inifile) if config.inifile else ()),
        )
        try:
            chosen = _audit.take_baseline(plan, root, key, (*pinned, *selection), background=background)
        except AuditError:
            return self.baseline()  # the plain baseline still compares; the selection note says the rest
        same_config = (chosen.pytest.rootdir, chosen.pytest.inifile) == wanted
        return chosen if same_config else self.baseline()

    def save_baseline(self, baseline: Snapshot) -> str | None:
        """Write ``--broker-audit-save-baseline`` once; returns a line to print, if any."""
        target: str = self.options.broker_audit_save_baseline
        with self._lock:
            if not target or self._saved:
                return None
            self._saved = True
        from tox_broker_audit.snapshot.io import dump_snapshot

        path = Path(target).expanduser().absolute()
        try:
            dump_snapshot(baseline, path)
        except AuditError as exc:
            return f"broker-audit: {exc}"
        return f"broker-audit: baseline snapshot saved to {path}"

    def save_reference(self, target: Snapshot, env_name: str) -> str | None:
        """Write ``--broker-audit-save=DIR``: the env's snapshot as ``DIR/<env>.json``."""
        directory: str = getattr(self.options, "broker_audit_save", "")
        if not directory:
            return None
        from tox_broker_audit.snapshot.reference import save_reference

        try:
            path = save_reference(target, Path(directory).expanduser().absolute(), env_name)
        except OSError as exc:
            why = exc.strerror or exc
            return f"broker-audit: {env_name}: cannot save the reference to {directory}: {why}"
        return (
            f"broker-audit: {env_name}: reference saved to {_outputs.display_path(path)} "
            "(commit it; CI compares with it: docs/ci.md)"
        )

    def budget(self) -> Budget:
        """``--broker-audit-verify-budget``; a bad value is a tox error at start-up, not a skipped audit."""
        text = str(getattr(self.options, "broker_audit_verify_budget", "") or DEFAULT_BUDGET)
        try:
            return parse_budget(text)
        except AuditError as exc:
            message = f"--broker-audit-verify-budget: {exc}"
            raise AuditError(message) from None

    def output(self) -> RenderOptions:
        """How every env's report is shown: the formats, ``-v``, tox's colour, the CI checkout."""
        from tox_broker_audit._ci import ci_root
        from tox_broker_audit.diagnosis.hooks import RenderOptions

        return RenderOptions(
            formats=self.formats,
            verbose=getattr(self.options, "verbosity", 2) > 2,
            color=bool(getattr(self.options, "is_colored", False)),
            root=ci_root(self.environ, str(self.tox_root)),
            config_file=str(self.config_file) if self.config_file else None,
        )

    def original_text(self, path: str) -> str:
        """The config file as tox read it (before a fix of this invocation was written into it)."""
        if path in self.originals:
            return self.originals[path]
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()

    def record_install(self, env_name: str, arguments: Any) -> None:
        """Remember which kind of package tox installed (wheel, sdist, editable)."""
        if isinstance(arguments, Sequence) and not isinstance(arguments, str):
            kinds = self.package_kinds.setdefault(env_name, [])
            kinds.extend(type(item).__name__ for item in arguments if type(item).__name__.endswith("Package"))


_RUNS: weakref.WeakKeyDictionary[Any, AuditRun] = weakref.WeakKeyDictionary()


def _run_of(tox_env: ToxEnv) -> AuditRun | None:
    return _RUNS.get(tox_env.core)


def start(core_conf: ConfigSet, state: State) -> None:
    """``tox_add_core_config``: validate the options and start the baseline early."""
    options = state.conf.options
    if not getattr(options, "broker_audit", False):
        return
    from tox.report import HandledError

    run = AuditRun(
        options,
        tox_root=Path(core_conf["tox_root"]),
        work_dir=Path(core_conf["work_dir"]),
        config_file=_config_file(state),
        configured_baseline=_configured_baseline(core_conf),
    )
    try:
        check_choice(run.fail_on, FAIL_ON, "--broker-audit-fail-on", _FROM_ELSEWHERE)
        check_choice(options.broker_audit_verify, VERIFY_MODES, "--broker-audit-verify", _FROM_ELSEWHERE)
        check_choice(options.broker_audit_oracle, ORACLES, "--broker-audit-oracle", _FROM_ELSEWHERE)
        check_choice(options.broker_audit_fix, FIX_MODES, "--broker-audit-fix", _FROM_ELSEWHERE)
        if options.broker_audit_oracle_tests < 1:
            message = (
                f"--broker-audit-oracle-tests={options.broker_audit_oracle_tests} is not a positive number"
            )
            raise AuditError(message)
        _outputs.check_formats(run.formats, "--broker-audit-format")
        run.budget()
        run.plan()
    except AuditError as exc:
        msg = f"--broker-audit: {exc}"
        raise HandledError(msg) from None
    _RUNS[core_conf] = run
    run.pos_args = _pos_args(state)
    if _runs_commands(options):
        run.config_only = _posargs_select(state, run.tox_root)
        run.start_baseline()


def _pos_args(state: State) -> tuple[str, ...]:
    try:
        return tuple(str(arg) for arg in state.conf.pos_args(None) or ())
    except Exception:  # noqa: BLE001 - a tox without it: no positional arguments
        return ()


def _posargs_select(state: State, tox_root: Path) -> bool:
    """Whether the positional arguments select tests (``tox -e py -- tests/a.py``): then each
    env compares with a baseline of its own selection, and the background probe needs only
    plain pytest's configuration, not a collection of the whole suite."""
    from tox_broker_audit._command import selection_args

    return bool(selection_args(list(_pos_args(state)), str(tox_root)))


def _configured_baseline(core_conf: ConfigSet) -> str:
    try:
        return str(core_conf["broker_audit_baseline"] or "").strip()
    except Exception:  # noqa: BLE001 - the key is ours; a tox without it must still run
        return ""


def _config_file(state: State) -> Path | None:
    try:
        path = Path(state.conf.src_path)
    except Exception:  # noqa: BLE001 - never let the audit break the run
        return None
    return path if path.is_file() else None


def _runs_commands(options: Parsed) -> bool:
    if getattr(options, "command", "legacy") not in _RUN_COMMANDS:
        return False
    if getattr(options, "no_test", False) or getattr(options, "package_only", False):
        return False
    listing = ("list_envs", "list_envs_all", "show_config")
    return not any(getattr(options, name, False) for name in listing) and not getattr(
        options, "devenv_path", None
    )


def on_install(tox_env: ToxEnv, arguments: Any) -> None:
    """``tox_on_install``: remember what tox installed (for :class:`ToxFacts`)."""
    run = _run_of(tox_env)
    if run is not None:
        run.record_install(tox_env.conf.name, arguments)


def before_commands(tox_env: ToxEnv) -> None:
    """``tox_before_run_commands``: make sure the baseline is under way (if tox skipped ``start``),
    and the env's selected baseline too, while its commands run."""
    run = _run_of(tox_env)
    if run is not None:
        run.commands_started[tox_env.conf.name] = time.time()
        run.start_baseline()
        try:
            selection = collection(tox_env)[3]
        except Exception:  # noqa: BLE001 - the audit after the commands says what is wrong
            return
        run.prefetch(selection, tox_env.conf.name)


# --------------------------------------------------------------------------- after the commands


def after_commands(tox_env: ToxEnv, exit_code: int) -> None:
    """``tox_after_run_commands``: probe the env, diagnose, write artefacts, print, maybe fail."""
    run = _run_of(tox_env)
    if run is None:
        return
    try:
        report = _audit_env(run, tox_env, "passed" if exit_code == 0 else "failed")
    except Exception as exc:  # noqa: BLE001 - never let the audit break the run
        _write(
            tox_env,
            f"broker-audit: {tox_env.conf.name}: internal error, audit skipped: {type(exc).__name__}: {exc}",
        )
        return
    mode = str(tox_env.conf["broker_audit_fix"] or run.options.broker_audit_fix)
    if mode != "off" and exit_code != 0:
        _fix(run, tox_env, report, mode)
    failing = _audit.count_failing(report, run.fail_on)
    if failing and exit_code == 0:
        from tox.tox_env.errors import Fail

        msg = f"broker audit: {failing} finding(s) at or above --broker-audit-fail-on={run.fail_on}"
        raise Fail(msg)


def _fix(run: AuditRun, tox_env: ToxEnv, report: Report, mode: str) -> None:
    """``--broker-audit-fix``: show or write the confirmed config change (``_tox/fixing.py``);
    when it was written and re-run, the re-run's exit code is the env's (tox takes a
    ``SystemExit`` from a hook as the env's exit code, as for an interrupted command)."""
    from tox_broker_audit._tox.fixing import fix_env

    name = tox_env.conf.name
    try:
        out_dir = Path(tox_env.env_dir) / _outputs.ARTEFACT_DIR
        code = fix_env(run, name, report, mode=mode, out_dir=out_dir, say=lambda text: _write(tox_env, text))
    except Exception as exc:  # noqa: BLE001 - never let the audit break the run
        _write(tox_env, f"broker-audit: {name}: the fix failed, nothing written: {type(exc).__name__}: {exc}")
        return
    if code is not None:
        raise SystemExit(code)


def _save(run: AuditRun, name: str, baseline: Snapshot | None, target: Snapshot | None) -> list[str]:
    """``--broker-audit-save-baseline`` and ``--broker-audit-save``: what was written, one line each."""
    saved = [
        run.save_baseline(baseline) if baseline is not None else None,
        run.save_reference(target, name) if target is not None else None,
    ]
    return [line for line in saved if line]


def _audit_env(run: AuditRun, tox_env: ToxEnv, outcome: str) -> Report:
    from tox_broker_audit._tox.facts import tox_facts

    started = time.monotonic()
    name = tox_env.conf.name
    out_dir = Path(tox_env.env_dir) / _outputs.ARTEFACT_DIR
    _outputs.reset_dir(out_dir)
    commands, found, explicit, selection, args, bad_args = collection(tox_env)
    notes = [f"broker-audit: {name}: {bad_args}"] if bad_args else []
    # A command the audit cannot see into gets no invented collection: only what both sides
    # have without running pytest is compared (snapshot/views.py), and one line says why.
    not_emulated = found is None and not explicit and bool(commands)
    if not_emulated:
        notes.append(not_emulated_line(name, commands[0]))
    result = _audit.run_audit(
        _audit.AuditJob(
            name=name,
            root=run.tox_root,
            plan=run.baseline_plan,
            target=lambda: target_request(
                tox_env, found, args, project_root=run.tox_root, key=run.key, collect=not not_emulated
            ),
            baseline=lambda: run.baseline_for(selection, name),
            output=run.output(),
            out_dir=out_dir,
            environ=run.environ,
            ignore=tuple(tox_env.conf["broker_audit_ignore"]),
            verify=str(
                tox_env.conf["broker_audit_verify"] or getattr(run.options, "broker_audit_verify", "auto")
            ),
            budget=run.budget(),
            fail_on=run.fail_on,
            outcome=outcome,
            oracle=str(tox_env.conf["broker_audit_oracle"] or run.options.broker_audit_oracle),
            oracle_tests=int(run.options.broker_audit_oracle_tests),
            since=run.commands_started.get(name),
            facts=lambda: tox_facts(tox_env, run.config_file, run.package_kinds.get(name, ())),
            notes=tuple(notes),
            after_capture=lambda baseline, target: _save(run, name, baseline, target),
        )
    )
    seconds = time.monotonic() - started
    took = f"broker-audit: {name}: the audit took {seconds:.1f} s (tox counts it in the env's setup time)"
    _write(tox_env, "\n".join((*result.notices, *result.lines, took)))
    return result.report


def _write(tox_env: ToxEnv, text: str) -> None:
    """Print under the env's output: under ``run-parallel`` tox buffers it with the env's own."""
    handler = getattr(tox_env, "log_handler", None)
    from tox_broker_audit._files import printable

    stream = getattr(handler, "stdout", None) or sys.stdout
    stream.write(printable(text) + "\n")
    stream.flush()


def _prepare(snapshot: Snapshot) -> None:
    """Serialise a baseline taken in the background for its artefact now, not after the env's
    commands (``snapshot.io.prepare``); a failure here is the artefact writer's to say."""
    from tox_broker_audit.snapshot.io import prepare

    with contextlib.suppress(Exception):
        prepare(snapshot)
