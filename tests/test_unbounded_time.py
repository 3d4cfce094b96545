"""Time limits that hold against hostile projects (issue 13): a probe whose children escape
its process group does not keep the audit waiting, and the diagnosis of huge snapshots is
not quadratic.

No timing assertions: each call runs in a thread that must be done well past what it should
take (minutes); on the old code it waits as long as the escaped child lives, or for ever.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from _snapshot_factory import make_snapshot, origin
from helpers import write_tree
from tox_broker_audit._errors import ProbeError
from tox_broker_audit.snapshot.capture import ProbeRequest, take_snapshot

#: A conftest whose child leaves the probe's process group (``setsid``) holding its stdout
#: and stderr, and lives on for five minutes; the child's pid goes to ``child.pid``.
ESCAPING_CONFTEST = """
    import os, sys, time

    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:  # double fork: not even a child of the probe any more
            with open({pidfile!r}, "w") as fh:
                fh.write(str(os.getpid()))
            time.sleep(300)
        os._exit(0)
    os.waitpid(pid, 0)
    while not os.path.exists({pidfile!r}):
        time.sleep(0.05)
    {after}
"""


def _finishes(call: Callable[[], Any], within: float) -> tuple[bool, Any]:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["value"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(within)
    return not thread.is_alive(), box.get("value")


@pytest.fixture
def pidfile(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "child.pid"
    yield path
    if path.exists():  # the escaped child this test's conftest started
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(path.read_text()), signal.SIGKILL)


def _project(tmp_path: Path, pidfile: Path, after: str) -> Path:
    conftest = ESCAPING_CONFTEST.format(pidfile=str(pidfile), after=after)
    return write_tree(tmp_path / "proj", {"conftest.py": conftest, "test_a.py": "def test_a():\n    pass\n"})


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_child_holding_the_pipes_does_not_delay_a_finished_probe(tmp_path: Path, pidfile: Path) -> None:
    project = _project(tmp_path, pidfile, after="pass")
    request = ProbeRequest(python=sys.executable, cwd=project, brokers=False, timeout=120)
    done, value = _finishes(lambda: take_snapshot(request), within=90)
    assert done, "the audit waited for a child that escaped the probe's process group"
    assert not isinstance(value, BaseException), value
    assert value.pytest.collected == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_hanging_probe_with_an_escaped_child_stops_at_the_timeout(tmp_path: Path, pidfile: Path) -> None:
    project = _project(tmp_path, pidfile, after="time.sleep(600)")
    request = ProbeRequest(python=sys.executable, cwd=project, brokers=False, timeout=5)
    done, value = _finishes(lambda: take_snapshot(request), within=90)
    assert done, "the time-out did not stop the audit"
    assert isinstance(value, ProbeError), value
    assert "did not finish within 5 s" in str(value)


def test_diagnosis_of_twenty_thousand_one_sided_modules_is_not_quadratic() -> None:
    from tox_broker_audit.diagnosis.engine import diagnose

    n = 20_000
    modules = [origin(f"m{i}", f"/proj/src/m{i}.py", in_project=True) for i in range(n)]
    baseline = make_snapshot()
    target = make_snapshot(prefix="/t", origins=modules)
    done, value = _finishes(lambda: diagnose(baseline, target), within=120)
    assert done, "diagnosing 20,000 one-sided modules took minutes"
    assert not isinstance(value, BaseException), value
    assert sum(1 for f in value.findings if f.subject.startswith("m")) >= 1


def _gone(pid: int) -> bool:
    """No such process, or only a zombie waiting for init to reap it."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not os.path.isdir("/proc") or not hasattr(os, "fork"), reason="needs fork and /proc")
def test_a_process_the_conftest_left_running_does_not_outlive_the_probe(
    tmp_path: Path, pidfile: Path
) -> None:
    conftest = f"""
        import os, time

        if os.fork() == 0:  # stays in the probe's process group, lives on after the probe
            with open({str(pidfile)!r}, "w") as fh:
                fh.write(str(os.getpid()))
            time.sleep(300)
            os._exit(0)
        while not os.path.exists({str(pidfile)!r}):
            time.sleep(0.05)
    """
    project = write_tree(
        tmp_path / "proj", {"conftest.py": conftest, "test_a.py": "def test_a():\n    pass\n"}
    )
    snapshot = take_snapshot(ProbeRequest(python=sys.executable, cwd=project, brokers=False, timeout=120))
    assert snapshot.pytest.collected == 1
    pid = int(pidfile.read_text())
    done, _ = _finishes(lambda: [time.sleep(0.1) for _ in iter(lambda: _gone(pid), True)], within=30)
    assert done, f"process {pid} started by the conftest still runs after the probe"
