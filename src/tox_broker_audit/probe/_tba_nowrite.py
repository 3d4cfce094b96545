"""Nothing written into the project: output options neutralised, coverage redirected, a guard.

Stdlib only, Python 3.9+. Executed inside the audited interpreter as the top-level module
``_tba_nowrite``. The collection run must not write what the real test run writes (a junit
file with ``tests="0"`` over the real one, a ``.coverage`` of the collection only, a
``log_file`` truncated, ``.benchmarks/``), wherever the option comes from: the ini file's
``addopts``, ``PYTEST_ADDOPTS`` or the command's arguments. Three layers:

- :func:`redirect_environment`: ``COVERAGE_FILE`` points into the probe's working directory
  and the variables that start coverage in every process (``COVERAGE_PROCESS_START``,
  pytest-cov's ``COV_CORE_*``) are cleared. Done after the environment was recorded, so the
  snapshot shows the environment as it was.
- :class:`ArgScrubber`: pytest's argument list, once ``addopts`` and ``PYTEST_ADDOPTS`` are in
  it, loses every output option (:data:`OUTPUT_OPTIONS`) and gets the neutral ones the loaded
  plugins know (``--no-cov``, ``--benchmark-disable``, ``--log-file`` and ``--basetemp`` into
  the working directory). pytest parses the same list object it gives its hooks, so the
  recorder plugin scrubs it each time a plugin registers (its options are known then).
- :func:`install_write_guard`: an audit hook refuses, and reports, any write, ``mkdir``,
  rename or removal under the project that a plugin or conftest still attempts.
"""

from __future__ import annotations

import os
import sys

__all__ = ["OUTPUT_OPTIONS", "PROBE_VARIABLES", "ArgScrubber", "install_write_guard", "redirect_environment"]

#: pytest options that write files, and whether they take a value: 1 always, 0 never, "?"
#: optionally (``--cov`` alone means "measure everything").
OUTPUT_OPTIONS = {
    "--junitxml": 1,
    "--junit-xml": 1,
    "--junit-prefix": 1,
    "--html": 1,
    "--self-contained-html": 0,
    "--result-log": 1,
    "--report-log": 1,
    "--log-file": 1,
    "--log-file-level": 1,
    "--basetemp": 1,
    "--cov": "?",
    "--cov-report": 1,
    "--cov-config": 1,
    "--cov-fail-under": 1,
    "--cov-context": 1,
    "--cov-append": 0,
    "--cov-branch": 0,
    "--benchmark-json": 1,
    "--benchmark-storage": 1,
    "--benchmark-save": 1,
    "--benchmark-autosave": 0,
    "--benchmark-save-data": 0,
    "--benchmark-histogram": "?",
    "--benchmark-cprofile-dump": "?",
    "--json-report": 0,
    "--json-report-file": 1,
    "--alluredir": 1,
    "--md-report-output": 1,
}

#: Variables that make coverage start in every Python process, or say where it writes.
_COVERAGE_STARTERS = (
    "COVERAGE_PROCESS_START",
    "COV_CORE_SOURCE",
    "COV_CORE_CONFIG",
    "COV_CORE_DATAFILE",
    "COV_CORE_BRANCH",
    "COV_CORE_CONTEXT",
)


#: The variables :func:`redirect_environment` sets: the probe's, not the run's.
PROBE_VARIABLES = ("COVERAGE_FILE",)


def redirect_environment(work: str) -> None:
    """Coverage data into ``work``; no coverage started by ``.pth`` hooks in this process."""
    for name in _COVERAGE_STARTERS:
        os.environ.pop(name, None)
    os.environ["COVERAGE_FILE"] = os.path.join(work, ".coverage")


def scrub(args: list) -> list:
    """``args`` without any :data:`OUTPUT_OPTIONS` (and their values)."""
    out: list = []
    i = 0
    while i < len(args):
        arg = args[i]
        if not isinstance(arg, str):
            out.append(arg)
            i += 1
            continue
        if arg == "--":
            out.extend(args[i:])
            break
        name, eq, _value = arg.partition("=")
        takes = OUTPUT_OPTIONS.get(name)
        if takes is None:
            out.append(arg)
            i += 1
            continue
        i += 1
        if not eq and takes and i < len(args):
            nxt = args[i]
            if takes == 1 or (isinstance(nxt, str) and not nxt.startswith("-")):
                i += 1
    return out


def _neutral_options(work: str) -> tuple:
    """``(option the parser must know, argument to add)``: what the collection run uses instead."""
    return (
        ("--no-cov", "--no-cov"),
        ("--benchmark-disable", "--benchmark-disable"),
        ("--benchmark-storage", "--benchmark-storage=file://" + os.path.join(work, "benchmarks")),
        ("--log-file", "--log-file=" + os.path.join(work, "pytest.log")),
        ("--basetemp", "--basetemp=" + os.path.join(work, "basetemp")),
    )


def _known_options(parser) -> set:
    names: set = set()
    for group in getattr(parser, "_groups", None) or [getattr(parser, "_anonymous", None)]:
        for option in getattr(group, "options", None) or ():
            try:
                names.update(option.names())
            except Exception:
                continue
    return names


class ArgScrubber:
    """Keeps pytest's argument list (the very list pytest parses) free of output options."""

    def __init__(self, args: list, work: str) -> None:
        self.args = args
        self.work = work
        self.parser = None

    def apply(self, args: list | None = None) -> None:
        target = self.args if args is None else args
        neutral = _neutral_options(self.work)
        added = {arg for _option, arg in neutral}
        cleaned = [arg for arg in scrub(target) if arg not in added]  # idempotent
        known: set = _known_options(self.parser) if self.parser is not None else set()
        cleaned.extend(arg for option, arg in neutral if option in known)
        target[:] = _padded(cleaned, len(target))


#: What takes the place of a removed argument: blocking a plugin no one has is a no-op.
PAD = "-pno:_tba_pad"


def _padded(args: list, length: int) -> list:
    """``args`` at least ``length`` long: pytest loops over this very list with its length taken
    before (``consider_preparse``, while a ``-p`` plugin it loads registers and we scrub), so it
    must never get shorter. The pads go before a ``--`` (after it they would be test paths)."""
    missing = length - len(args)
    if missing <= 0:
        return args
    at = args.index("--") if "--" in args else len(args)
    return [*args[:at], *([PAD] * missing), *args[at:]]


# --------------------------------------------------------------------------- the write guard

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_TRUNC", 0)
#: Audit events that change the file system: ``(path position, dir_fd position or None)``
#: for each path they change (``shutil.rmtree`` and ``os.fwalk`` work relative to a dir_fd).
_PATH_EVENTS = {
    "os.mkdir": ((0, 2),),
    "os.remove": ((0, 1),),
    "os.rmdir": ((0, 1),),
    "os.rename": ((0, 2), (1, 3)),
    "os.truncate": ((0, None),),
    "os.symlink": ((1, 2),),
    "os.link": ((1, 3),),
    "shutil.rmtree": ((0, 1),),
}


def _base_of(dir_fd) -> str | None:
    """The directory ``dir_fd`` is open on (Linux), ``None`` when that cannot be known."""
    if dir_fd is None or (isinstance(dir_fd, int) and dir_fd < 0):  # CPython reports "none" as -1
        return os.getcwd()
    try:
        return os.readlink(f"/proc/self/fd/{int(dir_fd)}")
    except (OSError, ValueError, TypeError):
        return None


def _inside(path: str, roots: tuple) -> bool:
    return any(path == root or path.startswith(root + os.sep) for root in roots)


def _roots(paths) -> tuple:
    out = set()
    for path in paths:
        if path:
            out.add(os.path.abspath(path))
            out.add(os.path.realpath(path))
    return tuple(sorted(out))


class _Guard:
    def __init__(self, protected: tuple, allowed: tuple, report) -> None:
        self.protected = protected
        self.allowed = allowed
        self.report = report
        self.busy = False
        self.refused: set = set()

    def _blocked(self, path, dir_fd=None) -> str | None:
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        elif hasattr(path, "__fspath__"):
            path = os.fspath(path)
        if not isinstance(path, str):
            return None  # a file descriptor
        base = _base_of(dir_fd) if not os.path.isabs(path) else "/"
        if base is None:
            return None  # relative to a directory we cannot name: not ours to judge
        full = os.path.normpath(os.path.join(base, path))
        if _inside(full, self.protected) and not _inside(full, self.allowed):
            return full
        return None

    def __call__(self, event: str, args: tuple) -> None:
        if self.busy:
            return
        if event == "open":
            if len(args) < 3 or not _writes(args[1], args[2]):
                return
            positions: tuple = ((0, None),)
        elif event in _PATH_EVENTS:
            positions = _PATH_EVENTS[event]
        else:
            return
        self.busy = True
        try:
            for pos, fd_pos in positions:
                if pos >= len(args):
                    continue
                dir_fd = args[fd_pos] if fd_pos is not None and fd_pos < len(args) else None
                full = self._blocked(args[pos], dir_fd)
                if full is not None:
                    self._refuse(event, full)
        finally:
            self.busy = False

    def _refuse(self, event: str, full: str) -> None:
        if full not in self.refused and len(self.refused) < 50:
            self.refused.add(full)
            self.report(f"refused {event} of {full}: the probe writes nothing into the project")
        raise PermissionError(
            13, "tox-broker-audit: the collection run writes nothing into the project", full
        )


def _writes(mode, flags) -> bool:
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)


def install_write_guard(protected, allowed, report) -> None:
    """Refuse writes under ``protected`` directories, except under ``allowed`` ones (the probe's
    working directory, the audited environment itself); ``report(message)`` says what was
    refused. Python 3.8+ (audit hooks); an audit hook stays until the process ends."""
    protected_roots = _roots(protected)
    # An allowed directory that contains the project would allow everything: not that one.
    allowed_roots = tuple(
        root for root in _roots(allowed) if not any(_inside(p, (root,)) for p in protected_roots)
    )
    sys.addaudithook(_Guard(protected_roots, allowed_roots, report))
