"""Find the pytest invocation in a tox env's ``commands`` and turn it into a collection run.

The target probe must see what the env's real test command sees (docs/architecture.md, "The
probe"): the same ``sys.path[0]`` (``pytest`` console script → its directory, ``python -m pytest`` and
``coverage run -m pytest`` → the working directory) and the same arguments, so that rootdir,
ini file, ``-p`` plugins and test paths match, and the same interpreter options. Pure
functions over argument lists, no tox imports: unit-tested on plain lists.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

__all__ = [
    "OPTIONS_WITH_VALUE",
    "PytestCommand",
    "absolute_nodeid",
    "collection_args",
    "find_pytest_command",
    "python_flags",
    "selection_args",
    "split_args",
    "without_selection",
    "xdist_workers",
]

Invocation = Literal["pytest", "python-m"]

_PYTEST_SCRIPTS = re.compile(r"^(pytest|py\.test|pytest-?3(\.\d+)?)$")
_PYTHON = re.compile(r"^(python|pypy)(\d+(\.\d+)?)?(t)?$")
_COVERAGE = re.compile(r"^coverage(-?\d+(\.\d+)?)?$")
#: CPython options that take a value as the next argument (``-W error``, ``-X dev``).
_PY_OPTS_WITH_VALUE = frozenset("WX")
_PYTEST_MODULES = frozenset({"pytest", "py.test"})
#: ``coverage run`` options given as ``--opt VALUE`` (``--opt=VALUE`` is one argument anyway).
_COVERAGE_OPTS_WITH_VALUE = frozenset(
    {"--source", "--include", "--omit", "--rcfile", "--data-file", "--context", "--concurrency", "--debug"}
)


@dataclasses.dataclass(frozen=True)
class PytestCommand:
    """A pytest run found in ``commands``: how it is invoked and with which arguments."""

    invocation: Invocation
    args: tuple[str, ...]
    command: tuple[str, ...]
    #: argv[0] of a console-script invocation (``pytest``, ``{envbindir}/pytest``), else None.
    script: str | None = None
    #: Interpreter options of ``python [options] -m pytest`` that change what a run sees
    #: (warnings, ``-X`` modes, optimisation, isolation): the probe runs with them too.
    python_flags: tuple[str, ...] = ()


def _name(exe: str) -> str:
    base = os.path.basename(exe).lower()
    return base[:-4] if base.endswith(".exe") else base


def _module_after_python_options(args: Sequence[str]) -> tuple[str | None, int]:
    """For ``python [options] -m MODULE rest``: ``(MODULE, index of rest)``; ``(None, 0)`` otherwise."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            return None, 0  # a script, stdin or the end of options: not ``-m``
        if arg.startswith("--"):  # --check-hash-based-pycs VALUE is the only long option with a value
            i += 2 if arg == "--check-hash-based-pycs" else 1
            continue
        letters = arg[1:]
        for pos, letter in enumerate(letters):
            if letter == "c":
                return None, 0
            if letter == "m":
                rest = letters[pos + 1 :]
                if rest:
                    return rest, i + 1
                return (args[i + 1], i + 2) if i + 1 < len(args) else (None, 0)
            if letter in _PY_OPTS_WITH_VALUE:
                i += 1 if pos + 1 < len(letters) else 2
                break
        else:
            i += 1
    return None, 0


#: Interpreter options the probe can carry over: they change what the code sees, but not how
#: the probe starts (``-S`` is the probe's own, ``-c``/``-m`` end the options).
_CARRIED_LETTERS = frozenset("WXObBEsIPu")


def python_flags(args: Sequence[str]) -> tuple[str, ...]:
    """The carried-over options among ``python``'s ``args`` before ``-m``/``-c``/the script."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or not arg.startswith("-") or arg == "-" or arg.startswith("--"):
            break
        letters = arg[1:]
        if letters[0] in "mc":
            break
        if letters[0] in _PY_OPTS_WITH_VALUE:
            value = letters[1:] or (args[i + 1] if i + 1 < len(args) else "")
            out.append(f"-{letters[0]}{value}")
            i += 1 if letters[1:] else 2
            continue
        kept = "".join(c for c in letters if c in _CARRIED_LETTERS and c not in "mc")
        if kept:
            out.append(f"-{kept}")
        if "m" in letters or "c" in letters:
            break
        i += 1
    return tuple(out)


def _pytest_after_coverage_run(args: Sequence[str]) -> int | None:
    """For ``coverage run [options] -m pytest rest``: the index of rest, else None."""
    if not args or args[0] != "run":
        return None
    i = 1
    while i < len(args) - 1:
        arg = args[i]
        if arg in ("-m", "--module"):
            return i + 2 if args[i + 1] in _PYTEST_MODULES else None
        if not arg.startswith("-"):
            return None  # ``coverage run script.py``
        i += 2 if arg in _COVERAGE_OPTS_WITH_VALUE else 1
    return None


def parse_pytest_command(argv: Sequence[str]) -> PytestCommand | None:
    """Recognise one command line as a pytest run, or return None."""
    if not argv:
        return None
    command = tuple(argv)
    name = _name(argv[0])
    if _PYTEST_SCRIPTS.match(name):
        return PytestCommand("pytest", tuple(argv[1:]), command, script=argv[0])
    rest_at: int | None = None
    if _PYTHON.match(name):
        module, at = _module_after_python_options(argv[1:])
        if module in _PYTEST_MODULES:
            rest_at = at + 1
        elif module == "coverage":
            inner = _pytest_after_coverage_run(argv[at + 1 :])
            rest_at = None if inner is None else at + 1 + inner
    elif _COVERAGE.match(name):
        inner = _pytest_after_coverage_run(argv[1:])
        rest_at = None if inner is None else 1 + inner
    if rest_at is None:
        return None
    flags = python_flags(argv[1:]) if _PYTHON.match(name) else ()
    return PytestCommand("python-m", tuple(argv[rest_at:]), command, python_flags=flags)


def find_pytest_command(commands: Iterable[Sequence[str]]) -> PytestCommand | None:
    """The first command of ``commands`` that runs pytest."""
    for argv in commands:
        found = parse_pytest_command(argv)
        if found is not None:
            return found
    return None


#: Options of a *test run* that make no sense for (or would write files during) a collection:
#: xdist would start workers, pytest-cov / junit / html write reports into the project.
_DROP_WITH_VALUE = frozenset(
    {
        "-n",
        "--numprocesses",
        "--maxprocesses",
        "--dist",
        "--cov",
        "--cov-report",
        "--cov-config",
        "--cov-fail-under",
        "--cov-context",
        "--junitxml",
        "--junit-xml",
        "--junit-prefix",
        "--html",
        "--result-log",
        "--durations",
        "--count",
    }
)
_DROP_FLAGS = frozenset(
    {
        "--cov-append",
        "--cov-branch",
        "--no-cov",
        "--no-cov-on-fail",
        "--self-contained-html",
        "--looponfail",
        "-f",
    }
)
#: Options whose value may be omitted (``--cov`` alone means "measure everything").
_OPTIONAL_VALUE = frozenset({"--cov"})


def collection_args(args: Sequence[str]) -> tuple[str, ...]:
    """``args`` of a test run without the options that only matter when tests run."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        if arg == "--":
            out.extend(args[i:])
            break
        if name in _DROP_FLAGS:
            i += 1
            continue
        if name in _DROP_WITH_VALUE:
            takes_next = "=" not in arg and i + 1 < len(args)
            if takes_next and name in _OPTIONAL_VALUE and args[i + 1].startswith("-"):
                takes_next = False
            i += 2 if takes_next else 1
            continue
        if arg.startswith("-n") and len(arg) > 2 and not arg.startswith("--"):  # -n2, -nauto
            i += 1
            continue
        out.append(arg)
        i += 1
    return tuple(out)


def xdist_workers(args: Sequence[str]) -> int:
    """How many pytest-xdist workers ``args`` start (``-n 4``, ``-n4``, ``--numprocesses=auto``:
    auto counts as 2); 0 when they start none."""
    count = 0
    for i, arg in enumerate(args):
        if arg == "--":
            break
        value: str | None = None
        if arg in ("-n", "--numprocesses") and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--numprocesses="):
            value = arg.split("=", 1)[1]
        elif arg.startswith("-n") and len(arg) > 2 and not arg.startswith("--"):
            value = arg[2:].lstrip("=")
        if value is not None:
            count = int(value) if value.isdigit() else 2
    return count


def split_args(values: Iterable[str]) -> tuple[str, ...]:
    """``broker_audit_pytest_args`` entries, each split like a shell command line."""
    out: list[str] = []
    for value in values:
        out.extend(shlex.split(value))
    return tuple(out)


#: Options that choose which tests are collected: the baseline collects the same selection.
_SELECTION_WITH_VALUE = frozenset({"-k", "-m", "--deselect", "--ignore", "--ignore-glob"})
#: pytest options whose value is the next argument (never a test path).
_PYTEST_VALUE_OPTIONS = frozenset(
    {
        "-c",
        "--config-file",
        "--rootdir",
        "--confcutdir",
        "--basetemp",
        "-p",
        "-o",
        "--override-ini",
        "-W",
        "--pythonwarnings",
        "--tb",
        "-r",
        "--maxfail",
        "--import-mode",
        "--capture",
        "--log-level",
        "--log-file",
        "--log-cli-level",
        "--junitxml",
        "--cov",
        "--cov-report",
        "--durations",
        # Output files (their values are never test paths, even when the file exists).
        "--junit-xml",
        "--html",
        "--result-log",
        "--report-log",
        "--cov-config",
        "--benchmark-json",
        "--benchmark-storage",
        "--json-report-file",
        "--alluredir",
    }
)
#: Every pytest option whose value is the next argument (never a test path): the output and
#: configuration ones above and the selecting ones.
OPTIONS_WITH_VALUE = _PYTEST_VALUE_OPTIONS | _SELECTION_WITH_VALUE | {"-n", "--numprocesses", "--dist"}


def selection_args(args: Sequence[str], cwd: str) -> tuple[str, ...]:
    """What ``args`` select: test paths and node ids (made absolute: the baseline runs
    elsewhere), ``-k``, ``-m``, ``--deselect``, ``--ignore`` and ``--ignore-glob``.

    A positional argument counts as a test path only when it exists (below ``cwd``), so the
    value of an option this function does not know is taken for one only if it names a path.
    """
    return tuple(item for selects, items in _split_selection(args, cwd) if selects for item in items)


def without_selection(args: Sequence[str], cwd: str) -> tuple[str, ...]:
    """``args`` less what :func:`selection_args` finds in them (the options that are not a selection)."""
    return tuple(item for selects, items in _split_selection(args, cwd) if not selects for item in items)


def _split_selection(args: Sequence[str], cwd: str) -> Iterator[tuple[bool, tuple[str, ...]]]:
    """``(selects, arguments)`` for each argument (with its value) of ``args``, in order; a
    selecting one made absolute."""
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        if name in _SELECTION_WITH_VALUE:
            if not eq and i + 1 < len(args):
                value, i = args[i + 1], i + 1
            yield (
                True,
                (
                    name,
                    absolute_nodeid(value, cwd)
                    if name.startswith("--") and name != "--ignore-glob"
                    else value,
                ),
            )
        elif arg.startswith(("-k", "-m")) and len(arg) > 2 and not arg.startswith("--"):
            yield True, (arg[:2], arg[2:])
        elif arg in _PYTEST_VALUE_OPTIONS:
            yield False, tuple(args[i : i + 2])
            i += 1  # its value is not a test path
        elif not arg.startswith("-"):
            path = arg.split("::", 1)[0]
            exists = bool(path) and os.path.exists(os.path.join(cwd, path))
            yield exists, ((absolute_nodeid(arg, cwd),) if exists else (arg,))
        else:
            yield False, (arg,)
        i += 1


def absolute_nodeid(path: str, cwd: str) -> str:
    """``path`` (a test file, directory or node id ``file::name``) made absolute from ``cwd``."""
    head, sep, tail = path.partition("::")
    return os.path.normpath(os.path.join(cwd, head)) + sep + tail
