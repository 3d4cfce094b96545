"""``broker-audit demo``: the whole story on the shipped example, in one command.

1. copy the shipped example to a temporary dir: ``stubbroker-under-tox`` (dramatiq), or with
   ``--celery`` ``celery-under-tox``;
2. build the "local" venv the way a developer would (``python -m venv`` + ``pip install -e``);
3. run plain ``pytest`` there with the developer's shell (``UNIT_TESTS=1``, or
   ``CELERY_BROKER_URL=memory://``, exported): passes;
4. run ``tox --broker-audit`` with the same shell: fails inside ``actor.send()`` / ``.delay()``;
5. show the audit report, the change of ``tox.ini`` as a diff and, in one line, what to change;
   with ``--fix`` the change is written, the env re-run and shown passing (the loop closed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from tox_broker_audit._errors import AuditError

__all__ = ["CELERY", "DRAMATIQ", "EXAMPLE", "Example", "register", "run_demo"]


@dataclasses.dataclass(frozen=True)
class Example:
    """One shipped example: its directory, what its developers export, how its failure reads."""

    directory: Path
    #: What the example's developers export in their shell.
    shell: Mapping[str, str]
    #: The exception line of pytest's output that is the symptom.
    symptom: re.Pattern[str]
    #: What ``pip install -e '.[test]'`` brings, for the step's line.
    installs: str


_EXAMPLES = Path(__file__).parent.parent / "_example"
#: dramatiq's testing guide: ``UNIT_TESTS=1`` selects the StubBroker.
DRAMATIQ = Example(
    _EXAMPLES / "stubbroker-under-tox",
    {"UNIT_TESTS": "1"},
    re.compile(r"^E\s+((?:pika\.exceptions|dramatiq\.errors)\.\w+.*)$", re.MULTILINE),
    "dramatiq, pika, pytest",
)
#: The team's ``.envrc``: Celery reads ``CELERY_BROKER_URL`` before any setting.
CELERY = Example(
    _EXAMPLES / "celery-under-tox",
    {"CELERY_BROKER_URL": "memory://"},
    re.compile(r"^E\s+(kombu\.exceptions\.\w+.*)$", re.MULTILINE),
    "celery, kombu, pytest",
)
EXAMPLE = DRAMATIQ.directory
_OFFLINE = re.compile(
    r"NewConnectionError|Temporary failure in name resolution|Name or service not known|"
    r"No matching distribution found|Could not find a version|Network is unreachable|ProxyError",
)
_NOISE = re.compile(r"^(ERROR|WARNING|INFO|DEBUG)\s+\S+:\S+\.py:\d+ ")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="run the shipped example: passes with plain pytest, fails under tox, the audit explains why",
        description=(
            "Copy the shipped example project to a temporary directory, build a local venv as a "
            "developer would, run plain pytest (passes), run tox --broker-audit (fails) and show "
            "the audit's explanation. Needs the package index (pip installs dramatiq, pika, pytest; "
            "with --celery: celery, kombu, pytest)."
        ),
    )
    parser.add_argument("--keep", metavar="DIR", type=Path, help="work in DIR and keep it afterwards")
    parser.add_argument(
        "--fix",
        action="store_true",
        help="also write the confirmed fix into the example's tox.ini and show tox passing",
    )
    parser.add_argument(
        "--celery",
        action="store_true",
        help="the Celery example: .delay() reaches RabbitMQ under tox, the in-memory transport locally",
    )
    parser.set_defaults(
        run=lambda args: run_demo(keep=args.keep, fix=args.fix, example=CELERY if args.celery else DRAMATIQ)
    )


class _Steps:
    def __init__(self, total: int, out: TextIO) -> None:
        self.total, self.done, self.out = total, 0, out

    def start(self, text: str) -> float:
        self.done += 1
        self.out.write(f"[{self.done}/{self.total}] {text} ...\n")
        self.out.flush()
        return time.monotonic()

    def finish(self, started: float, text: str = "done") -> None:
        self.out.write(f"      {text} ({time.monotonic() - started:.1f} s)\n")
        self.out.flush()


def _run(
    cmd: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            list(cmd),
            cwd=str(cwd),
            env=dict(env),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        msg = f"`{' '.join(cmd)}` did not finish within {timeout:g} s"
        raise AuditError(msg) from None
    except OSError as exc:
        msg = f"cannot run {cmd[0]}: {exc.strerror or exc}"
        raise AuditError(msg) from None


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"


def _shell_env(example: Example) -> dict[str, str]:
    """The developer's shell: this environment, outside any venv, with the team's exports."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME", "TOX_ENV_DIR")}
    env.pop("PYTHONPATH", None)
    env.update(example.shell)
    return env


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _tox_section(output: str) -> list[str]:
    """What to show of tox's output: pytest's summary onwards, without pika's log noise."""
    lines = output.splitlines()
    start = next((i for i, ln in enumerate(lines) if "short test summary info" in ln), 0)
    return [ln for ln in lines[start:] if not _NOISE.match(ln)]


def run_demo(
    *, keep: Path | None = None, out: TextIO | None = None, fix: bool = False, example: Example = DRAMATIQ
) -> int:
    stream = out or sys.stdout
    if not example.directory.is_dir():
        msg = f"the shipped example is missing from this installation: {example.directory}"
        raise AuditError(msg)
    try:
        import tox  # noqa: F401
    except ImportError:
        msg = f"tox is not installed in {sys.executable}: pip install tox"
        raise AuditError(msg) from None
    workdir = keep.absolute() if keep is not None else Path(tempfile.mkdtemp(prefix="broker-audit-demo-"))
    project = workdir / example.directory.name
    try:
        return _demo(example, project, stream, fix=fix)
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            stream.write(f"kept: {project}\n")


def _demo(example: Example, project: Path, out: TextIO, *, fix: bool = False) -> int:
    if project.exists():
        msg = f"{project} already exists: choose an empty --keep directory"
        raise AuditError(msg)
    shutil.copytree(
        example.directory,
        project,
        ignore=shutil.ignore_patterns(".venv", ".tox", "__pycache__", "*.egg-info"),
    )
    env = _shell_env(example)
    steps = _Steps(4, out)
    exports = " ".join(f"{k}={v}" for k, v in example.shell.items())
    out.write(f"example project: {project}\nthe developer's shell exports: {exports}\n\n")
    _local_venv(project, env, steps, example)
    _plain_pytest(project, env, steps)
    proc = _tox(project, env, steps, out, fix=fix, symptom=example.symptom)
    return _conclude(project, proc, out, fix=fix)


def _local_venv(project: Path, env: Mapping[str, str], steps: _Steps, example: Example) -> None:
    started = steps.start("creating the local venv the way a developer would: python -m venv .venv")
    proc = _run([sys.executable, "-m", "venv", ".venv"], cwd=project, env=env, timeout=300)
    if proc.returncode != 0:
        msg = f"python -m venv failed: {_last_line(proc.stderr or proc.stdout)}"
        raise AuditError(msg)
    steps.finish(started)
    started = steps.start(
        f"installing it: pip install -e '.[test]' ({example.installs} from the package index)"
    )
    python = str(project / ".venv" / "bin" / "python")
    proc = _run([python, "-m", "pip", "install", "-q", "-e", ".[test]"], cwd=project, env=env, timeout=900)
    if proc.returncode != 0:
        said = proc.stderr + proc.stdout
        if _OFFLINE.search(said):
            msg = f"cannot reach the package index to install the example: {_last_line(said)}"
            raise AuditError(msg)
        msg = f"pip install -e '.[test]' failed: {_last_line(said)}"
        raise AuditError(msg)
    steps.finish(started)


def _plain_pytest(project: Path, env: Mapping[str, str], steps: _Steps) -> None:
    started = steps.start("plain pytest in the local venv: .venv/bin/pytest")
    proc = _run(
        [str(project / ".venv" / "bin" / "pytest"), "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        timeout=300,
    )
    if proc.returncode != 0:
        msg = f"the local pytest run should pass but did not: {_last_line(proc.stdout)}"
        raise AuditError(msg)
    steps.finish(started, f"PASSED — {_last_line(proc.stdout)}")


def _tox(
    project: Path,
    env: Mapping[str, str],
    steps: _Steps,
    out: TextIO,
    *,
    fix: bool = False,
    symptom: re.Pattern[str] = DRAMATIQ.symptom,
) -> subprocess.CompletedProcess[str]:
    if _port_open("127.0.0.1", 5672):
        out.write("note: something listens on 127.0.0.1:5672, so the tox run may reach a real broker\n")
    mode = "apply" if fix else "diff"
    started = steps.start(
        f"tox --broker-audit --broker-audit-fix={mode} (tox builds its env; the audit runs after the tests)"
    )
    command = [sys.executable, "-m", "tox", "-e", "py", "--broker-audit", f"--broker-audit-fix={mode}"]
    proc = _run(command, cwd=project, env=env, timeout=900)
    if fix:
        fixed = proc.returncode == 0 and "fixed: " in proc.stdout
        steps.finish(started, "FAILED, then fixed and passing" if fixed else f"exit {proc.returncode}")
    else:
        steps.finish(started, "FAILED, as the team sees it" if proc.returncode != 0 else "passed (!)")
    seen = symptom.search(proc.stdout)
    if seen:
        out.write(f"      symptom: {seen.group(1).strip()}\n")
    out.write("\n" + "\n".join(_tox_section(proc.stdout)) + "\n\n")
    return proc


def _conclude(
    project: Path, proc: subprocess.CompletedProcess[str], out: TextIO, *, fix: bool = False
) -> int:
    report_file = project / ".tox" / "py" / "broker-audit" / "report.json"
    try:
        report = json.loads(report_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        msg = f"tox ran but wrote no audit report ({report_file}): {_last_line(proc.stdout)}"
        raise AuditError(msg) from None
    findings = report.get("findings") or []
    if fix:
        return _fixed(project, proc, findings, out)
    if proc.returncode == 0:
        out.write(
            "tox passed here, so there is nothing to explain (is a broker running on 127.0.0.1:5672?)\n"
        )
        return 1
    if not findings:
        msg = "tox failed but the audit found no difference; please report this"
        raise AuditError(msg)
    out.write(f"what to change: {findings[0]['fix']}\n")
    again = (
        "broker-audit demo --celery --fix"
        if project.name == CELERY.directory.name
        else "broker-audit demo --fix"
    )
    out.write(f"to see it written into tox.ini and tox pass: {again}\n")
    return 0


def _fixed(
    project: Path, proc: subprocess.CompletedProcess[str], findings: Sequence[Mapping[str, Any]], out: TextIO
) -> int:
    """``--fix``: the confirmed change is in tox.ini and the re-run passed."""
    if not any(f.get("edits") for f in findings) or proc.returncode != 0 or "fixed: " not in proc.stdout:
        said = _last_line(proc.stdout)
        msg = f"the fix was not written or did not make tox pass (exit {proc.returncode}): {said}"
        raise AuditError(msg)
    text = (project / "tox.ini").read_text(encoding="utf-8")
    out.write(f"tox.ini now reads:\n{text}\nthe loop is closed: the cause, the change, and tox passing\n")
    return 0
