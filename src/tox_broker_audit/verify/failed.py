"""Which tests failed in the real run tox just did, read from the files that run left behind.

Two sources, both pytest's own: the junit XML report of ``--junitxml``/``--junit-xml`` (this
very run's output, preferred) and the cache provider's ``<cache_dir>/v/cache/lastfailed``
(a JSON object, node id -> ``true``). Where they are is worked out the way pytest does: the
command's arguments after the ini file's ``addopts`` (``-o cache_dir=…`` last wins, over
``cache_dir`` in the ini file; ``-p no:cacheprovider``: no cache), a relative ``cache_dir``
relative to the rootdir, a relative report path relative to the command's cwd, ``~`` and
``$VAR`` expanded (in this process's environment, not the command's).

Only a file the run wrote counts when ``since`` is given: its mtime must be ``>= since``.
pytest rewrites ``lastfailed`` only when it changed, so a run that fails exactly as the one
before leaves it untouched; ``v/cache/nodeids``, which every run (not ``--collect-only``)
rewrites next to it, then says the run saw it.

``lastfailed`` keeps the failures of earlier runs for tests this run did not run, so its node
ids are kept only under what the command selected (its positional arguments that exist relative
to its cwd, else ``testpaths`` when it ran in the rootdir, else its cwd) and only while their
file exists. Known limitations: ``-k``, ``-m``, ``--deselect``, ``--ignore`` and
``PYTEST_ADDOPTS`` are not applied, so an earlier failure they deselected is still listed; so
is one from before a run that stopped at a collection error; a whole-file key (no ``::``) is a
collection error or a file pytest marks to re-run, kept as it is; envs run in parallel
(``tox -p``) share one cache unless ``cache_dir`` differs. The junit report has none of these.

A junit test case failed when it has a ``<failure>`` or ``<error>`` child; its node id is
rebuilt from its ``file`` attribute (``junit_family=xunit1``) or else from its dotted
``classname`` (the longest prefix that is a ``.py`` file under the rootdir; the rest are
classes). A case whose node id cannot be rebuilt is left out.

Never raises on bad input (an unreadable, corrupt or foreign file): nothing found is
``FailedTests((), "")``, and the caller falls back to other means. Never writes anything.
"""

from __future__ import annotations

import configparser
import dataclasses
import glob
import json
import os
import shlex
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from typing import Any

from tox_broker_audit._command import OPTIONS_WITH_VALUE

__all__ = ["FailedTests", "failed_tests"]


@dataclasses.dataclass(frozen=True)
class FailedTests:
    """The tests that failed in one run, as pytest node ids relative to its rootdir."""

    #: At most ``limit`` node ids, in the file's order.
    nodeids: tuple[str, ...]
    #: ``"junit"``, ``"lastfailed"`` or ``""`` (none found).
    source: str
    #: The file they were read from (absolute path); ``""`` when none.
    where: str = ""
    #: How many failed tests that file lists (after the selection), before the limit.
    total: int = 0


_NONE = FailedTests((), "")

_JUNIT = ("--junitxml", "--junit-xml")


@dataclasses.dataclass(frozen=True)
class _Command:
    """What a pytest command line says about where its results went."""

    cache_dir: str | None = None
    no_cache: bool = False
    junitxml: str | None = None
    junit_prefix: str = ""
    paths: tuple[str, ...] = ()
    pyargs: bool = False


def _value(args: Sequence[str], i: int, names: Iterable[str], short: str = "") -> tuple[str | None, int]:
    """The value of option ``args[i]`` when it is one of ``names`` (``--x=V``, ``--x V``, ``-oV``) and
    how many arguments it took; ``(None, 0)`` when it is not."""
    arg = args[i]
    for name in names:
        if arg == name:
            return (args[i + 1], 2) if i + 1 < len(args) else (None, 1)
        if name.startswith("--") and arg.startswith(name + "="):
            return arg[len(name) + 1 :], 1
    if short and arg.startswith(short) and len(arg) > len(short):
        return arg[len(short) :], 1
    return None, 0


def _scan(args: Sequence[str]) -> _Command:
    """Parse the output-related options and the positional arguments of ``args`` (last wins)."""
    found: dict[str, Any] = {}
    paths: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            paths.extend(args[i + 1 :])
            break
        if arg == "--pyargs":
            found["pyargs"] = True
        override, used = _value(args, i, ("-o", "--override-ini"), short="-o")
        if override is not None and override.partition("=")[0] == "cache_dir" and "=" in override:
            found["cache_dir"] = override.partition("=")[2]
        plugin, used_p = _value(args, i, ("-p",), short="-p")
        if plugin in ("no:cacheprovider", "cacheprovider"):  # another -p leaves it as it is
            found["no_cache"] = plugin == "no:cacheprovider"
        junit, used_j = _value(args, i, _JUNIT)
        if junit is not None:
            found["junitxml"] = junit
        prefix, used_x = _value(args, i, ("--junit-prefix",))
        if prefix is not None:
            found["junit_prefix"] = prefix
        taken = max(used, used_p, used_j, used_x)
        if not taken and arg.partition("=")[0] in OPTIONS_WITH_VALUE:
            taken = 1 if "=" in arg else 2
        if not taken and not arg.startswith("-"):
            paths.append(arg)
        i += max(taken, 1)
    return _Command(paths=tuple(paths), **found)


class _CaseSensitive(configparser.RawConfigParser):
    def optionxform(self, optionstr: str) -> str:
        return optionstr


def _toml(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib as toml
    else:  # tox itself depends on tomli there
        try:
            import tomli as toml  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            return {}
    data = toml.loads(text)
    return data if isinstance(data, dict) else {}


def _toml_section(path: str, text: str) -> dict[str, Any]:
    data = _toml(text)
    tool = data.get("tool", {}).get("pytest") if isinstance(data.get("tool"), dict) else None
    if os.path.basename(path) != "pyproject.toml" and isinstance(data.get("pytest"), dict):
        return dict(data["pytest"])
    if not isinstance(tool, dict):
        return {}
    if isinstance(tool.get("ini_options"), dict):
        return dict(tool["ini_options"])
    return {key: value for key, value in tool.items() if key != "ini_options"}


def _ini(inifile: str | None) -> dict[str, Any]:
    """pytest's settings in ``inifile`` (ini mode: strings; TOML mode: TOML values); {} when unreadable."""
    if not inifile:
        return {}
    try:
        with open(inifile, encoding="utf-8") as handle:
            text = handle.read()
        if inifile.endswith(".toml"):
            return _toml_section(inifile, text)
        parser = _CaseSensitive(strict=False, default_section="\x00", comment_prefixes=("#", ";"))
        parser.read_string(text, source=inifile)
        section = "tool:pytest" if inifile.endswith(".cfg") else "pytest"
        return dict(parser.items(section)) if parser.has_section(section) else {}
    except (OSError, UnicodeDecodeError, ValueError, AttributeError, configparser.Error):
        return {}


def _as_args(value: object) -> list[str]:
    """An ``args``-type ini value (``addopts``, ``testpaths``): a shell-split string or a list."""
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError:
            return []
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _expand(path: str) -> str:
    return os.path.expandvars(os.path.expanduser(path))


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except (OSError, ValueError):
        return None


def _fresh(path: str, since: float | None, witness: str = "") -> bool:
    """``path`` exists and this run wrote it (or, when ``witness`` was written, saw it)."""
    mtime = _mtime(path)
    if mtime is None:
        return False
    if since is None or mtime >= since:
        return True
    seen = _mtime(witness) if witness else None
    return seen is not None and seen >= since


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _relative(path: str, rootdir: str) -> str:
    """``path`` (absolute) as a node id's path part: relative to ``rootdir``, ``/``-separated."""
    rel = os.path.relpath(path, rootdir).replace(os.sep, "/")
    return "" if rel == "." else rel


def _selection(command: _Command, ini: dict[str, Any], rootdir: str, cwd: str) -> tuple[str, ...] | None:
    """The rootdir-relative node id prefixes the command selected; None: the whole rootdir."""
    if command.pyargs:
        return None
    out: list[str] = []
    for arg in command.paths:
        head, sep, tail = arg.partition("::")
        path = os.path.normpath(os.path.join(cwd, head))
        if head and os.path.exists(path):
            out.append(_relative(path, rootdir) + sep + tail)
    if not out and os.path.normpath(cwd) == os.path.normpath(rootdir):
        for pattern in _as_args(ini.get("testpaths")):
            matches = glob.glob(os.path.join(rootdir, pattern), recursive=True)
            out.extend(_relative(os.path.normpath(match), rootdir) for match in sorted(matches))
    elif not out:
        out.append(_relative(os.path.normpath(cwd), rootdir))
    return None if not out or "" in out else tuple(out)


def _selected(nodeid: str, selection: tuple[str, ...] | None) -> bool:
    if selection is None:
        return True
    for chosen in selection:
        if nodeid == chosen or nodeid.startswith((chosen + "::", chosen + "/", chosen + "[")):
            return True
    return False


def _lastfailed(path: str, selection: tuple[str, ...] | None, rootdir: str) -> list[str] | None:
    """The node ids in the ``lastfailed`` file ``path`` within ``selection`` whose file still exists
    (pytest never forgets a deleted one); None when unreadable."""
    text = _read(path)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not all(isinstance(key, str) for key in data):
        return None
    return [
        key
        for key in data
        if key and _selected(key, selection) and os.path.exists(os.path.join(rootdir, key.split("::")[0]))
    ]


def _module_file(parts: Sequence[str], rootdir: str) -> int:
    """How many leading ``parts`` name a ``.py`` file under ``rootdir`` (the longest); 0 for none."""
    for count in range(len(parts), 0, -1):
        if os.path.isfile(os.path.join(rootdir, *parts[:count]) + ".py"):
            return count
    return 0


def _junit_nodeid(classname: str, name: str, file: str | None, prefix: str, rootdir: str) -> str | None:
    """A junit test case's node id (pytest's ``mangle_test_address`` undone); None if unresolved."""
    if prefix and (classname == prefix or classname.startswith(prefix + ".")):
        classname = classname[len(prefix) + 1 :]
    parts = classname.split(".") if classname else []
    if file:  # where the test's code is: usually, not always, the node id's file
        path = _relative(file, rootdir) if os.path.isabs(file) else file.replace("\\", "/")
        module = (path[:-3] if path.endswith(".py") else path).split("/")
        if not parts and name.split(".") == module:  # a collection error: the name is the dotted path
            return path
        if parts and parts[: len(module)] == module:
            return "::".join([path, *parts[len(module) :], name])
    if not parts:  # a collection error: the name is the dotted path of a file or directory
        parts = name.split(".")
        if _module_file(parts, rootdir) == len(parts):
            return "/".join(parts) + ".py"
        return "/".join(parts) if os.path.isdir(os.path.join(rootdir, *parts)) else None
    count = _module_file(parts, rootdir)
    if not count:
        return None
    return "::".join(["/".join(parts[:count]) + ".py", *parts[count:], name])


def _junit(path: str, prefix: str, rootdir: str) -> list[str] | None:
    """The node ids of the failed test cases in the junit XML file ``path``; None when unreadable."""
    text = _read(path)
    if text is None:
        return None
    try:
        # The run's own report; expat refuses external entities and entity expansion bombs.
        root = ET.fromstring(text)  # noqa: S314
    except (ET.ParseError, ValueError):
        return None
    out: list[str] = []
    for case in root.iter("testcase"):
        if case.find("failure") is None and case.find("error") is None:
            continue
        nodeid = _junit_nodeid(
            case.get("classname", ""), case.get("name", ""), case.get("file"), prefix, rootdir
        )
        if nodeid and nodeid not in out:
            out.append(nodeid)
    return out


def _found(nodeids: list[str] | None, source: str, where: str, limit: int) -> FailedTests | None:
    if not nodeids:
        return None
    return FailedTests(tuple(nodeids[: max(limit, 0)]), source, where, len(nodeids))


def failed_tests(
    rootdir: str,
    args: Sequence[str],
    *,
    inifile: str | None,
    since: float | None,
    limit: int = 3,
    cwd: str | None = None,
) -> FailedTests:
    """The tests that failed in the run of pytest ``args`` (run in ``cwd``, default ``rootdir``),
    with the ini file ``inifile``: from its junit report when it wrote one, else from the cache's
    ``lastfailed``; only files written since ``since`` (a timestamp; None: any). See the module."""
    try:
        rootdir = os.path.abspath(rootdir)
        cwd = os.path.abspath(os.path.join(rootdir, cwd)) if cwd else rootdir
        ini = _ini(os.path.join(cwd, inifile) if inifile else None)
        command = _scan([*_as_args(ini.get("addopts")), *args])
        if command.junitxml:
            where = os.path.normpath(os.path.join(cwd, _expand(command.junitxml)))
            if _fresh(where, since):
                found = _found(_junit(where, command.junit_prefix, rootdir), "junit", where, limit)
                if found is not None:
                    return found
        if command.no_cache:
            return _NONE
        cache_dir = command.cache_dir if command.cache_dir is not None else ini.get("cache_dir")
        cache = os.path.join(rootdir, _expand(cache_dir if isinstance(cache_dir, str) else ".pytest_cache"))
        where = os.path.normpath(os.path.join(cache, "v", "cache", "lastfailed"))
        if not _fresh(where, since, witness=os.path.join(os.path.dirname(where), "nodeids")):
            return _NONE
        selection = _selection(command, ini, rootdir, cwd)
        return _found(_lastfailed(where, selection, rootdir), "lastfailed", where, limit) or _NONE
    except (OSError, ValueError, TypeError):  # a path that cannot be a path (a NUL byte): nothing found
        return _NONE
