"""Host side of the probe: run it in any interpreter, with a time-out, and load its snapshot."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from tox_broker_audit._errors import ProbeError, SnapshotError
from tox_broker_audit._version import __version__
from tox_broker_audit.snapshot._process import ProbeTimeoutError, run_probe
from tox_broker_audit.snapshot.io import load_snapshot
from tox_broker_audit.snapshot.model import Snapshot, Source

__all__ = [
    "PROBE_SCRIPT",
    "ProbeRequest",
    "find_pytest_script",
    "fingerprint_key",
    "resolve_python",
    "take_snapshot",
]

PROBE_SCRIPT = Path(__file__).parent.parent / "probe" / "_tba_main.py"
Invocation = Literal["pytest", "python-m"]
DEFAULT_TIMEOUT = 120.0


@dataclasses.dataclass(frozen=True)
class ProbeRequest:
    """Everything that defines one snapshot: which interpreter, where, with which environment."""

    python: str
    cwd: Path
    env: Mapping[str, str] | None = None  # None: this process's environment
    invocation: Invocation = "pytest"
    pytest_args: tuple[str, ...] = ()
    source: Source = dataclasses.field(default_factory=lambda: Source(kind="cli"))
    timeout: float = DEFAULT_TIMEOUT
    project_root: Path | None = None
    pytest_script: str | None = None  # None: looked up next to the interpreter
    brokers: bool = True
    key: bytes | None = None  # fingerprint key; None: the user's cached key
    #: Interpreter options of the real command (``-W error``, ``-X dev``, ``-O``, ``-I``).
    python_flags: tuple[str, ...] = ()
    #: What a verify re-probe changes inside the probe (``probe/_tba_experiment.py``).
    experiment: Mapping[str, object] | None = None
    #: Workers the real command starts with pytest-xdist (``-n 4``: 4; 0: no xdist in its arguments).
    xdist_workers: int = 0
    #: Why pytest is not run at all (the env's command is none the audit can emulate): the
    #: snapshot then records the environment, packages and start-up only, never an invented
    #: collection. None: collect as the command would.
    no_collection: str | None = None
    #: Stop before collection: only pytest's configuration (rootdir, ini file) is wanted (the
    #: snapshot then has no distributions and no broker section either: nothing compares it).
    config_only: bool = False
    #: Run tests, not only collect them (the test oracle, ``probe/_tba_tests.py``): ``nodeids``
    #: (``/abs/file.py::name``) to run from the command's selection, or none: the selection up
    #: to ``maxfail`` failures. None: collect only.
    run_tests: Mapping[str, object] | None = None
    #: Background work (a baseline taken while tox runs the env's commands): the probe runs at
    #: a low CPU priority, so it takes the cores the tests leave. Never the target's probe.
    background: bool = False


def _executable_in(venv: Path) -> Path | None:
    for rel in ("bin/python", "bin/python3", "Scripts/python.exe"):
        candidate = venv / rel
        if candidate.is_file():
            return candidate
    return None


def resolve_python(spec: str) -> str:
    """Turn ``PY`` (path or name on PATH) or ``VENV_DIR`` into an interpreter path, or fail clearly
    (also when a directory on the way may not be read: one line, never a traceback)."""
    try:
        return _resolve_python(spec)
    except OSError as exc:
        msg = f"cannot use {spec} as the Python interpreter: {exc.strerror or exc}"
        raise ProbeError(msg) from None


def _resolve_python(spec: str) -> str:
    path = Path(spec).expanduser()
    if path.is_dir():
        exe = _executable_in(path)
        if exe is None:
            msg = f"{spec} is a directory but not a virtual environment (no bin/python in it)"
            raise ProbeError(msg)
        return str(exe.absolute())
    if path.is_file():
        if not os.access(path, os.X_OK):
            msg = f"{spec} is not executable"
            raise ProbeError(msg)
        return str(path.absolute())
    if os.sep not in spec:
        found = shutil.which(spec)
        if found:
            return found
    msg = f"Python interpreter not found: {spec}"
    raise ProbeError(msg)


def find_pytest_script(python: str) -> str | None:
    """The ``pytest`` console script that belongs to ``python`` (same directory), if any.

    The directory is taken from the path as given, not resolved: a venv's ``bin/python`` is
    often a symlink to the base interpreter, while its ``pytest`` script sits in the venv.
    """
    directory = Path(python).parent
    for name in ("pytest", "pytest.exe", "py.test"):
        candidate = directory / name
        if candidate.is_file():
            return str(candidate)
    return None


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tox-broker-audit"


def fingerprint_key() -> bytes:
    """The key for value fingerprints: stable per user so snapshots taken apart compare.

    It is kept in the user's cache directory (mode 0600) and never written into a snapshot;
    where that is not writable a per-process random key is used (fingerprints then only
    compare within this run).
    """
    key_file = _cache_dir() / "fingerprint.key"
    try:
        data = key_file.read_bytes()
        if len(data) >= 32:
            return data[:32]
    except OSError:
        pass
    key = secrets.token_bytes(32)
    try:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(key_file), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
    except FileExistsError:
        return fingerprint_key()
    except OSError:
        pass
    return key


def _last_lines(text: str, count: int = 3) -> str:
    from tox_broker_audit.probe._tba_redact import redact_text

    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return redact_text(" | ".join(lines[-count:]))[:400]


def take_snapshot(request: ProbeRequest) -> Snapshot:
    """Run the probe as ``request`` says and return the validated snapshot.

    Raises :class:`ProbeError` (one line) when the interpreter is missing, the probe crashes
    or does not finish within ``request.timeout`` seconds.
    """
    python = resolve_python(request.python)
    cwd = request.cwd
    if not cwd.is_dir():
        msg = f"working directory does not exist: {cwd}"
        raise ProbeError(msg)
    script = request.pytest_script if request.pytest_script is not None else find_pytest_script(python)
    env = dict(os.environ if request.env is None else request.env)
    tmp = Path(tempfile.mkdtemp(prefix="tba-probe-"))
    try:
        out = tmp / "snapshot.json"
        _write_request(tmp / "request.json", _payload(request, python, script, out, cwd))
        cmd = [python, *request.python_flags, "-S", str(PROBE_SCRIPT), str(tmp / "request.json")]
        try:
            code, stdout, stderr = run_probe(
                cmd,
                cwd=str(cwd),
                env=env,
                timeout=request.timeout,
                scratch=tmp,
                background=request.background,
            )
        except OSError as exc:
            msg = f"cannot start {python}: {exc.strerror or exc}"
            raise ProbeError(msg) from None
        except ProbeTimeoutError:
            msg = (
                f"the probe in {python} did not finish within {request.timeout:g} s "
                "(a conftest or plugin may hang at import or collection)"
            )
            raise ProbeError(msg) from None
        if not out.is_file():
            tail = _last_lines(stderr) or _last_lines(stdout) or "no output"
            msg = f"the probe crashed in {python} (exit code {code}): {tail}"
            raise ProbeError(msg)
        try:
            return load_snapshot(out)
        except SnapshotError as exc:
            msg = f"the probe in {python} wrote an unreadable snapshot: {exc}"
            raise ProbeError(msg) from None
    finally:
        # A child that escaped the probe may still write here: never an error of ours.
        shutil.rmtree(tmp, ignore_errors=True)


def _payload(
    request: ProbeRequest, python: str, script: str | None, out: Path, cwd: Path
) -> dict[str, object]:
    """The request file the probe reads (``probe/_tba_main.py``)."""
    payload: dict[str, object] = {
        "out": str(out),
        "key": (request.key or fingerprint_key()).hex(),
        "invocation": request.invocation,
        "pytest_script": script,
        "pytest_args": list(request.pytest_args),
        "source": dataclasses.asdict(request.source),
        "project_root": str(request.project_root or cwd),
        "command": _emulated_command(request, python, script),
        "tool_version": __version__,
        "brokers": request.brokers,
    }
    if request.experiment:
        payload["experiment"] = dict(request.experiment)
    if request.xdist_workers:
        payload["xdist_workers"] = request.xdist_workers
    if request.no_collection:
        payload["no_collection"] = request.no_collection
    if request.config_only:
        payload["config_only"] = True
    if request.run_tests is not None:
        payload["run_tests"] = dict(request.run_tests)
    return payload


def _write_request(path: Path, payload: dict[str, object]) -> None:
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as fh:
        json.dump(payload, fh)


def _emulated_command(request: ProbeRequest, python: str, script: str | None) -> list[str]:
    if request.invocation == "python-m":
        return [python, *request.python_flags, "-m", "pytest", *request.pytest_args]
    return [script or "pytest", *request.pytest_args]


def default_python() -> str:
    """The interpreter a plain ``broker-audit snapshot`` audits: the active venv, else this one."""
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        exe = _executable_in(Path(venv))
        if exe is not None:
            return str(exe)
    return sys.executable
