"""Build small, valid snapshots by hand for unit tests of diff, rules and renderers.

Every snapshot goes through ``snapshot_from_dict``, so the hand-built data is validated
against the same model the probe's output is.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from tox_broker_audit.probe._tba_redact import fingerprint, key_id, redact_value
from tox_broker_audit.snapshot.io import snapshot_from_dict
from tox_broker_audit.snapshot.model import Snapshot

__all__ = ["KEY", "PROJECT", "dist", "make_snapshot", "origin", "plugin", "pth", "read"]

KEY = b"k" * 32
PROJECT = "/proj"
BASE = "/usr/lib/python3.12"
SP = "lib/python3.12/site-packages"


def package(name: str, root: str, files: Mapping[str, str]) -> dict[str, Any]:
    """A project package as the probe lists it: ``{relative path: content}``."""
    import hashlib

    return {
        "name": name,
        "root": root,
        "files": [
            {"path": path, "size": len(text), "sha256": hashlib.sha256(text.encode()).hexdigest()}
            for path, text in sorted(files.items())
        ],
        "truncated": False,
    }


def event(module: str, importer: str | None, *, phase: str = "collection") -> dict[str, Any]:
    return {
        "module": module,
        "phase": phase,
        "importer": importer,
        "importer_file": None,
        "importer_line": None,
    }


def read(
    name: str,
    file: str,
    *,
    present: bool = True,
    line: int = 1,
    module: str | None = None,
    phase: str = "collection",
    how: str = "getenv",
) -> dict[str, Any]:
    return {
        "name": name,
        "present": present,
        "how": how,
        "phase": phase,
        "file": file,
        "line": line,
        "module": module,
    }


def dist(
    name: str,
    version: str = "1.0",
    *,
    prefix: str = "/venv",
    editable: bool = False,
    source_path: str | None = None,
    top_level: Iterable[str] | None = None,
    requires: Iterable[str] = (),
) -> dict[str, Any]:
    return {
        "name": name,
        "raw_name": name,
        "version": version,
        "location": f"{prefix}/{SP}",
        "installer": "uv",
        "editable": editable,
        "direct_url": None,
        "source_path": source_path,
        "requested": True,
        "top_level": list(top_level if top_level is not None else [name.replace("-", "_")]),
        "requires": list(requires),
    }


def pth(
    name: str,
    *,
    prefix: str = "/venv",
    exec_lines: Iterable[str] = (),
    path_lines: Iterable[str] = (),
    known: str | None = None,
    imported: Iterable[str] = (),
) -> dict[str, Any]:
    return {
        "path": f"{prefix}/{SP}/{name}",
        "name": name,
        "path_lines": list(path_lines),
        "exec_lines": list(exec_lines),
        "known": known,
        "added_paths": list(path_lines),
        "imported": list(imported),
        "processed": True,
    }


def plugin(
    name: str,
    module: str,
    *,
    prefix: str = "/venv",
    distribution: str | None = None,
    how: str = "entry-point",
) -> dict[str, Any]:
    return {
        "name": name,
        "module": module,
        "file": f"{prefix}/{SP}/{module.replace('.', '/')}.py",
        "distribution": distribution,
        "how": how,
    }


def origin(
    module: str, file: str, *, in_project: bool = False, distribution: str | None = None
) -> dict[str, Any]:
    return {"module": module, "file": file, "in_project": in_project, "distribution": distribution}


def make_snapshot(
    *,
    prefix: str = "/venv",
    env: Mapping[str, str] | None = None,
    reads: Iterable[dict[str, Any]] = (),
    writes: Iterable[dict[str, Any]] = (),
    dists: Iterable[dict[str, Any]] | None = None,
    pth_files: Iterable[dict[str, Any]] = (),
    sitecustomize: dict[str, Any] | None = None,
    plugins: Iterable[dict[str, Any]] = (),
    origins: Iterable[dict[str, Any]] = (),
    timeline: Iterable[dict[str, Any]] = (),
    doubles: Iterable[dict[str, Any]] = (),
    packages: Iterable[dict[str, Any]] = (),
    sys_path: Iterable[dict[str, Any]] | None = None,
    invocation: str = "pytest",
    pytest: Mapping[str, Any] | None = None,
    version: str = "3.12.3",
    hashseed: str | None = None,
    flags: Mapping[str, int] | None = None,
    key: bytes = KEY,
    errors: Iterable[dict[str, Any]] = (),
    brokers: Mapping[str, Any] | None = None,
    source_kind: str = "cli",
) -> Snapshot:
    env = {"HOME": "/home/u", "LANG": "C.UTF-8"} if env is None else env
    variables = []
    for name in sorted(env):
        shown, secret = redact_value(name, env[name])
        variables.append(
            {
                "name": name,
                "value": shown,
                "secret": secret,
                "fingerprint": fingerprint(key, name + "\0" + env[name]),
            }
        )
    if dists is None:
        dists = [
            dist("pytest", "8.3.0", prefix=prefix, top_level=["pytest", "_pytest", "py"]),
            dist("pluggy", "1.5.0", prefix=prefix),
        ]
    if sys_path is None:
        first = PROJECT if invocation == "python-m" else f"{prefix}/bin"
        sys_path = [
            {"path": first, "origin": "invocation", "detail": invocation, "exists": True},
            {"path": f"{BASE}", "origin": "stdlib", "detail": None, "exists": True},
            {"path": f"{prefix}/{SP}", "origin": "site-packages", "detail": None, "exists": True},
        ]
    pytest_section: dict[str, Any] = {
        "available": True,
        "version": "8.3.0",
        "invocation": invocation,
        "args": [],
        "rootdir": PROJECT,
        "inifile": f"{PROJECT}/pytest.ini",
        "addopts": [],
        "import_mode": "prepend",
        "testpaths": [],
        "ini_pythonpath": [],
        "unknown_ini_keys": [],
        "plugins": [
            plugin("python", "_pytest.python", prefix=prefix, distribution="pytest", how="builtin"),
            *plugins,
        ],
        "conftests": [f"{PROJECT}/tests/conftest.py"],
        "collection_errors": [],
        "collected": 3,
        "exit_code": 0,
    }
    pytest_section.update(pytest or {})
    data = {
        "schema": "tox-broker-audit/snapshot",
        "schema_version": 1,
        "meta": {
            "tool_version": "0",
            "created": "2024-01-01T00:00:00Z",
            "host": "h",
            "source": {"kind": source_kind, "name": None, "description": f"test snapshot of {prefix}"},
            "invocation": invocation,
            "command": ["python", "-m", "pytest"] if invocation == "python-m" else [f"{prefix}/bin/pytest"],
            "cwd": PROJECT,
            "duration_s": 0.1,
        },
        "interpreter": {
            "executable": f"{prefix}/bin/python",
            "version": version,
            "implementation": "cpython",
            "prefix": prefix,
            "base_prefix": "/usr",
            "in_venv": True,
            "venv_creator": "uv",
            "pyvenv_cfg": {},
            "flags": dict(flags or {"isolated": 0, "no_site": 0}),
            "hashseed": hashseed,
            "platform": "linux",
        },
        "environ": {
            "variables": variables,
            "reads": list(reads),
            "writes": list(writes),
            "fingerprint_key_id": key_id(key),
        },
        "sys_path": list(sys_path),
        "startup": {
            "pth_files": list(pth_files),
            "sitecustomize": sitecustomize,
            "usercustomize": None,
            "user_site": None,
            "user_site_enabled": False,
            "modules": [],
        },
        "distributions": list(dists),
        "pytest": pytest_section,
        "imports": {
            "timeline": list(timeline),
            "double_imports": list(doubles),
            "origins": list(origins),
            "packages": list(packages),
        },
        "brokers": dict(brokers or {"captured": False}),
        "errors": list(errors),
    }
    return snapshot_from_dict(copy.deepcopy(data))
