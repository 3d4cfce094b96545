"""Run the probe process with a time-out that holds, whatever the audited code starts.

The probe's output goes to files, not pipes: a process the project's conftest or a plugin
starts inherits them, and with pipes the audit would wait for the *last* holder to close
them (a daemon that called ``setsid()`` and lives on kept the audit waiting past
``--timeout``, or for ever after the probe itself had finished). With files the audit waits
for the probe process alone. On a time-out it kills the probe's process group, and every
process it can still find that descends from the probe or lives in its session; a child
that double-forked out of both cannot be found, but no longer holds the audit. After a
normal exit, what is left in the probe's process group or session is killed too: the probe
skips interpreter shutdown (no atexit, no fixture teardown), so nothing else would stop it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["ProbeTimeoutError", "run_probe"]

#: How much of the probe's stdout/stderr is kept (the end: it says why it stopped).
_TAIL = 64 * 1024
#: The nice value of a background probe (a baseline taken while the env's commands run).
BACKGROUND_NICE = 10


class ProbeTimeoutError(Exception):
    """The probe did not finish in time; it and what could be found of its children are killed."""


def run_probe(
    cmd: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    timeout: float,
    scratch: Path,
    background: bool = False,
) -> tuple[int, str, str]:
    """Run ``cmd``; ``(exit code, stdout tail, stderr tail)``. ``scratch``: a private directory
    for the output files; ``background``: at a low CPU priority (:data:`BACKGROUND_NICE`).
    Raises :class:`OSError` when it cannot start, :class:`ProbeTimeoutError`."""
    out_file, err_file = scratch / "probe.stdout", scratch / "probe.stderr"
    with open(out_file, "wb") as out, open(err_file, "wb") as err:
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    if background:
        _lower_priority(proc.pid)
    try:
        code = proc.wait(timeout=timeout)
        _kill_leftovers(proc.pid)  # what the project's code started and left running
    except subprocess.TimeoutExpired:
        kill_tree(proc)
        raise ProbeTimeoutError from None
    except BaseException:  # KeyboardInterrupt: leave nothing behind
        kill_tree(proc)
        raise
    return code, _tail(out_file), _tail(err_file)


def _lower_priority(pid: int) -> None:
    """Renice the probe just started (what it starts inherits it). Set from here, not in the
    child (``preexec_fn`` is unsafe with threads, and the baseline runs in one); where the
    platform has no ``setpriority`` (Windows) the probe runs at normal priority."""
    setpriority = getattr(os, "setpriority", None)
    if setpriority is None:
        return
    with contextlib.suppress(OSError):  # already gone, or not allowed: normal priority then
        setpriority(os.PRIO_PROCESS, pid, BACKGROUND_NICE)


def _tail(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - _TAIL))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _processes() -> dict[int, tuple[int, int, int]]:
    """``{pid: (ppid, pgrp, session)}`` from ``/proc`` (empty where there is none)."""
    table: dict[int, tuple[int, int, int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode("ascii", "replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (comm) "
        with contextlib.suppress(ValueError, IndexError):
            table[int(entry)] = (int(fields[1]), int(fields[2]), int(fields[3]))
    return table


def _related(root: int) -> set[int]:
    """Processes descending from ``root``, or in its process group or session."""
    table = _processes()
    found = {pid for pid, (_ppid, pgrp, session) in table.items() if root in (pgrp, session)}
    children: dict[int, list[int]] = {}
    for pid, (ppid, _pgrp, _session) in table.items():
        children.setdefault(ppid, []).append(pid)
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    found.discard(os.getpid())
    return found


def _kill_leftovers(pgid: int) -> None:
    """After the probe exited: SIGKILL what is still in its process group or session (those
    ids stay taken while a member lives, so nothing else can be hit)."""
    kill = getattr(signal, "SIGKILL", signal.SIGTERM)
    table = _processes()
    with contextlib.suppress(ProcessLookupError, PermissionError, AttributeError, OSError):
        os.killpg(pgid, kill)
    for pid, (_ppid, pgrp, session) in table.items():
        if pgid in (pgrp, session) and pid != os.getpid():
            with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
                os.kill(pid, kill)


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the probe, its process group and every related process still found."""
    kill = getattr(signal, "SIGKILL", signal.SIGTERM)
    related = _related(proc.pid)
    with contextlib.suppress(ProcessLookupError, PermissionError, AttributeError):
        os.killpg(proc.pid, kill)
    for pid in related | {proc.pid}:
        with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
            os.kill(pid, kill)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
