"""Where an env's dependencies are declared, line by line: so drift points at the line to change.

A dependency reaches a tox env through its ``deps`` (in any config format, possibly ``-r
requirements.txt``), the project's extras that ``extras`` names, or the project's own
dependencies. This reads those files as text — no resolution, no network — and records, for
each requirement's canonical name, the first line that declares it, preferring the env's own
section to ``[testenv]`` / ``env_run_base`` and those to the rest of the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from tox_broker_audit.diagnosis.model import Location

__all__ = ["dependency_lines"]

_SECTION = re.compile(r"^\s*\[+\s*(?P<name>[^\]]+?)\s*\]+\s*$")
_KEY = re.compile(r"^(?P<key>[A-Za-z_][\w.-]*)\s*[=:]\s*(?P<value>.*)$")
_QUOTED = re.compile(r"""["']([^"'\n]+)["']""")
_REQ_FILE = re.compile(r"^-[rc]\s*(?P<file>\S+)|^--(?:requirement|constraint)[=\s]+(?P<long>\S+)")
_DEP_KEYS = {"deps", "dependencies"}
_ARRAY_TABLES = ("project.optional-dependencies", "dependency-groups")


def _name(text: str) -> str | None:
    text = text.split("#", 1)[0].strip().rstrip(",").strip()
    if not text or text.startswith(("-", "{", "[")):
        return None
    try:
        return canonicalize_name(Requirement(text).name)
    except InvalidRequirement:
        return None


def _rank(section: str, env_name: str) -> int:
    """0 for the env's own section, 1 for the base env, 2 for anything else."""
    own = {f"testenv:{env_name}", f"tox:testenv:{env_name}", f"env.{env_name}", f'env."{env_name}"'}
    own |= {f"tool.tox.{name}" for name in own}
    if section in own:
        return 0
    base = {"testenv", "tox:testenv", "env_run_base", "tool.tox.env_run_base"}
    return 1 if section in base else 2


def _ini_candidates(lines: list[str]) -> Iterator[tuple[int, str, str]]:
    """``(line number, section, text)`` of every value line of a ``deps`` key in an INI file."""
    section, in_deps = "", False
    for number, line in enumerate(lines, 1):
        match = _SECTION.match(line)
        if match:
            section, in_deps = match["name"], False
            continue
        if line[:1] in (" ", "\t"):
            if in_deps:
                yield number, section, line.strip()
            continue
        key = _KEY.match(line)
        in_deps = bool(key and key["key"] == "deps")
        if key and in_deps and key["value"].strip():
            yield number, section, key["value"].strip()


def _toml_candidates(lines: list[str]) -> Iterator[tuple[int, str, str]]:
    """Quoted strings in ``deps``/``dependencies`` arrays, and in every array of the tables
    that hold only requirement lists (``[project.optional-dependencies]``, ``[dependency-groups]``)."""
    section, in_array = "", False
    for number, line in enumerate(lines, 1):
        code = line.split(" #", 1)[0]
        match = None if in_array else _SECTION.match(code)
        if match:
            section = match["name"]
            continue
        key = None if in_array else _KEY.match(code.strip())
        if key is not None:
            relevant = key["key"] in _DEP_KEYS or section in _ARRAY_TABLES
            if not relevant or not key["value"].startswith("["):
                continue
            code, in_array = key["value"], True
        if in_array:
            for text in _QUOTED.findall(code):
                yield number, section, text
            if "]" in _QUOTED.sub("", code):
                in_array = False


def _read(path: Path) -> list[str] | None:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None


def _requirement_file(path: Path, found: dict[str, tuple[int, Location]], rank: int) -> None:
    lines = _read(path)
    for number, line in enumerate(lines or (), 1):
        name = _name(line)
        if name and (name not in found or found[name][0] > rank):
            found[name] = (rank, Location(str(path), number))


def dependency_lines(config_file: Path | None, tox_root: Path, env_name: str) -> dict[str, Location]:
    """Canonical name -> where it is declared, from the tox config and the project's pyproject."""
    found: dict[str, tuple[int, Location]] = {}
    if config_file is not None:
        lines = _read(config_file) or []
        candidates = list(_ini_candidates(lines)) if config_file.suffix != ".toml" else []
        if config_file.suffix == ".toml":  # native TOML, or legacy_tox_ini: INI inside a string
            candidates = list(_toml_candidates(lines))
            if any("legacy_tox_ini" in line for line in lines):
                candidates += list(_ini_candidates(lines))
        for number, section, text in candidates:
            rank = _rank(section, env_name)
            req = _REQ_FILE.match(text.strip("\"'"))
            if req:
                _requirement_file(config_file.parent / (req["file"] or req["long"]), found, rank)
                continue
            name = _name(text)
            if name and (name not in found or found[name][0] > rank):
                found[name] = (rank, Location(str(config_file), number))
    pyproject = tox_root / "pyproject.toml"
    if pyproject != config_file and pyproject.is_file():
        for number, _section, text in _toml_candidates(_read(pyproject) or []):
            name = _name(text)
            if name and name not in found:
                found[name] = (3, Location(str(pyproject), number))
    return {name: location for name, (_rank_, location) in found.items()}
