"""Running the chosen tests: the oracle's run (the request's ``run_tests``).

Stdlib only, Python 3.9+. Executed inside the audited interpreter as the top-level module
``_tba_tests``. Without ``run_tests`` the probe only collects; with it, pytest runs the
env's own selection (its arguments unchanged, so the same conftests and plugins load) and
:class:`TestFilter` keeps only the tests asked for (``nodeids``: ``/abs/file.py::name``, so
two rootdirs compare), or every test up to ``maxfail`` failures when none is named. The
recorders stay on, in the phase ``test``, so a variable read in a fixture or a broker
chosen in one is seen.

:class:`Outcomes` notes each test's outcome and the last line of its failure (redacted).
:func:`install_socket_recorder` notes every ``socket.connect`` (audit event) with its endpoint
and the first frame outside the stdlib: an endpoint that does not answer (checked once, 0.5 s)
ends that test at once with :class:`Unreachable` — a ``BaseException``, so a client's retry
loop (``except Exception``) does not turn one refused connection into 16 s of back-off. In an
experiment's run (the request's ``run_tests.allow``) an endpoint neither real run reached is
refused the same way: the audit never makes a test publish where the real runs would not.
"""

from __future__ import annotations

import os
import sys

import _tba_redact as redact
from _tba_state import STATE, frame_info, interesting_frame

__all__ = ["Outcomes", "TestFilter", "Unreachable", "connections", "install_socket_recorder", "run_args"]

_MAX_CONNECTIONS = 200
_CHECK_TIMEOUT = 0.5


class Unreachable(BaseException):
    """Raised into the test at its first connection to an endpoint that does not answer."""


def run_args(request: dict) -> list:
    """Extra pytest arguments of a test run: past collection errors, and stop after ``maxfail``
    failures when no test is named."""
    spec = request.get("run_tests") or {}
    # A module that cannot be collected must not stop the others' tests (it is one outcome).
    keep_going = ["--continue-on-collection-errors"]
    if spec.get("nodeids"):
        return keep_going
    if spec.get("first"):
        return [*keep_going, "--maxfail=1"]
    return [*keep_going, "--maxfail=%d" % max(1, int(spec.get("maxfail") or 3))]


def _item_id(item) -> str:
    path = getattr(item, "path", None) or getattr(item, "fspath", None)
    nodeid = str(getattr(item, "nodeid", ""))
    rest = nodeid.split("::", 1)[1] if "::" in nodeid else ""
    return os.path.abspath(str(path)) + ("::" + rest if rest else "")


class TestFilter:
    """Deselects every collected test not asked for (pytest's own deselection hook). A file
    asked for (no ``::``: it could not be collected in the real run) is only collected: that
    it collects is the cure of its failure, and its tests are not run."""

    def __init__(self, nodeids, first: int = 0) -> None:
        self.wanted = {str(n) for n in nodeids}
        self.first = first

    def pytest_collection_modifyitems(self, config, items) -> None:
        if self.first and len(items) > self.first:
            config.hook.pytest_deselected(items=items[self.first :])
            items[:] = items[: self.first]
        if not self.wanted:
            return
        keep: list = []
        drop: list = []
        for item in items:
            test_id = _item_id(item)
            (keep if test_id in self.wanted else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep


class Outcomes:
    """Each test's outcome: ``failed`` (its call or set-up failed), ``passed``, ``skipped``."""

    def __init__(self, wanted=()) -> None:
        self.tests: dict = {}
        self.ids: dict = {}
        self.files: dict = {}
        self.wanted_files = {str(n) for n in wanted if "::" not in str(n)}

    def pytest_runtest_logstart(self) -> None:
        STATE.phase = "test"

    def pytest_itemcollected(self, item) -> None:
        self.ids[str(item.nodeid)] = _item_id(item)

    def pytest_collectreport(self, report) -> None:
        """A module that cannot be collected is a failed "test" named by its file (as pytest's
        ``lastfailed`` names it); one that collects is a passed one."""
        path = str(getattr(report, "fspath", "") or "")
        if not path.endswith(".py") or "::" in str(report.nodeid):
            return
        file_id = os.path.abspath(path)
        entry = self.files.setdefault(
            file_id, {"nodeid": str(report.nodeid), "id": file_id, "outcome": "passed", "message": ""}
        )
        if report.failed:
            entry["outcome"] = "failed"
            entry["message"] = _last_line(report)

    def pytest_runtest_logreport(self, report) -> None:
        nodeid = str(report.nodeid)
        entry = self.tests.setdefault(
            nodeid, {"nodeid": nodeid, "id": self.ids.get(nodeid, nodeid), "outcome": "passed", "message": ""}
        )
        if report.failed and entry["outcome"] != "failed":
            entry["outcome"] = "failed"
            entry["message"] = _last_line(report)
        elif report.skipped and report.when in ("setup", "call") and entry["outcome"] == "passed":
            entry["outcome"] = "skipped"

    def section(self) -> list:
        """The tests' outcomes, then the modules': those asked for, and those that could not be
        collected and have no test here."""
        with_tests = {entry["id"].partition("::")[0] for entry in self.tests.values()}
        files = [
            entry
            for file_id, entry in self.files.items()
            if file_id in self.wanted_files or (entry["message"] and file_id not in with_tests)
        ]
        return [*self.tests.values(), *files]


def _last_line(report) -> str:
    """The exception the test failed with, one line (pytest's own summary of it), redacted."""
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    text = str(getattr(crash, "message", "") or "")
    if not text:
        text = str(getattr(report, "longreprtext", "") or report.longrepr or "")
        lines = [line.strip() for line in text.splitlines() if line.strip().startswith("E ")]
        text = lines[0][2:] if lines else text
    first = next((line.strip() for line in text.splitlines() if line.strip()), "failed")
    return redact.redact_text(first)[:300]


# ------------------------------------------------------------------------ connections


class _Sockets:
    def __init__(self) -> None:
        self.records: list = []
        self.seen: set = set()
        self.answers: dict = {}
        self.checking = False
        #: An experiment's run: the endpoints one of the two real runs reached (None: any).
        self.allowed: frozenset | None = None

    def __call__(self, event: str, args: tuple) -> None:
        if event != "socket.connect" or self.checking or STATE.guard:
            return
        address = args[1] if len(args) > 1 else None
        if not isinstance(address, tuple) or len(address) < 2:
            return
        host, port = str(address[0]), address[1]
        if not isinstance(port, int):
            return
        endpoint = f"{host}:{port}"
        if self.allowed is not None and endpoint not in self.allowed:
            self._note(endpoint, False)
            msg = f"broker-audit: neither real run reaches {endpoint}: the experiment does not connect there"
            raise Unreachable(msg)
        answers = self._answers(host, port, getattr(args[0], "family", None))
        file, line, _module = frame_info(_caller())
        key = (host, port, file, line, STATE.phase)
        if key not in self.seen and len(self.records) < _MAX_CONNECTIONS:
            self.seen.add(key)
            self.records.append(
                {
                    "endpoint": f"{host}:{port}",
                    "answered": answers,
                    "file": file,
                    "line": line,
                    "phase": STATE.phase,
                }
            )
        if not answers and STATE.phase == "test":
            msg = f"broker-audit: {host}:{port} does not answer: the test ends at its first attempt"
            raise Unreachable(msg)

    def _note(self, endpoint: str, answers: bool) -> None:
        file, line, _module = frame_info(_caller())
        key = (endpoint, file, line, STATE.phase)
        if key not in self.seen and len(self.records) < _MAX_CONNECTIONS:
            self.seen.add(key)
            self.records.append(
                {"endpoint": endpoint, "answered": answers, "file": file, "line": line, "phase": STATE.phase}
            )

    def _answers(self, host: str, port: int, family) -> bool:
        known = self.answers.get((host, port))
        if known is not None:
            return bool(known)
        import socket

        self.checking = True
        try:
            probe = socket.socket(family or socket.AF_INET, socket.SOCK_STREAM)
            try:
                probe.settimeout(_CHECK_TIMEOUT)
                answers = probe.connect_ex((host, port)) == 0
            finally:
                probe.close()
        except OSError:
            answers = False
        finally:
            self.checking = False
        self.answers[(host, port)] = answers
        return answers


_STDLIB = os.path.dirname(os.__file__)


def _caller():
    """The first frame outside the stdlib (a client library in site-packages counts)."""
    frame = interesting_frame(3)
    while frame is not None:
        name = frame.f_code.co_filename
        if not (name.startswith(_STDLIB) and "site-packages" not in name) and "_tba_" not in name:
            return frame
        frame = frame.f_back
    return None


_SOCKETS = _Sockets()


def install_socket_recorder(allowed=None) -> None:
    """From now on every ``socket.connect`` is noted (audit hooks cannot be removed: the probe
    exits right after writing its snapshot). ``allowed``: an experiment's run connects only to
    these ``host:port`` endpoints — those the two real runs reached — so that undoing a
    difference never makes a test publish where neither run would."""
    if allowed is not None:
        _SOCKETS.allowed = frozenset(str(e) for e in allowed)
    sys.addaudithook(_SOCKETS)


def connections() -> list:
    return list(_SOCKETS.records)
