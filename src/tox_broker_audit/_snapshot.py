"""The snapshot model: frozen dataclasses mirroring the snapshot JSON (DESIGN §4).

The probe (``probe/``) writes plain JSON inside the audited interpreter; this module is the
only place that turns such a file back into typed objects. Loading is strict: a foreign file,
a truncated file, a wrong type or an unknown ``schema_version`` is a :class:`SnapshotError`
with one line of explanation, never a traceback. Unknown *keys* are tolerated so that newer
probes can add fields without breaking older readers (extend, never rename).

The module deliberately avoids ``from __future__ import annotations`` and PEP 604 unions:
the field types are evaluated at run time by the loader, also on Python 3.9.
"""

import dataclasses
import json
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Optional, TypeVar, Union, get_args, get_origin, get_type_hints

from ._errors import SnapshotError

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "BrokerCreation",
    "BrokerInfo",
    "BrokerSet",
    "BrokerUrl",
    "BrokersSection",
    "CallSite",
    "CeleryUrl",
    "CollectionError",
    "CustomizeFile",
    "Distribution",
    "DoubleImport",
    "DramatiqActor",
    "EnvRead",
    "EnvVar",
    "EnvWrite",
    "EnvironSection",
    "ImportEvent",
    "ImportsSection",
    "InterpreterSection",
    "Meta",
    "ModuleOrigin",
    "PackageFile",
    "PackageFiles",
    "ProbeIssue",
    "PthFile",
    "PytestPlugin",
    "PytestSection",
    "Reachability",
    "Snapshot",
    "Source",
    "StartupModule",
    "StartupSection",
    "SysPathEntry",
    "dump_snapshot",
    "load_snapshot",
    "snapshot_from_dict",
    "snapshot_to_dict",
]

SCHEMA = "tox-broker-audit/snapshot"
SCHEMA_VERSION = 1

_FROZEN = {"frozen": True}
if sys.version_info >= (3, 10):  # pragma: no branch - slots need 3.10
    _FROZEN["slots"] = True

#: Phases of a test run, in order. ``startup`` is interpreter start-up (``.pth`` files,
#: ``sitecustomize``); ``pytest-import`` is importing pytest itself; ``plugin-load`` covers
#: entry-point, ``-p`` and ``PYTEST_PLUGINS`` plugins; ``conftest`` the initial conftests;
#: ``configure`` the ``pytest_configure`` calls; ``collection`` the collection of tests.
Phase = Literal["startup", "pytest-import", "plugin-load", "conftest", "configure", "collection", "unknown"]
PHASES: tuple[str, ...] = get_args(Phase)


@dataclasses.dataclass(**_FROZEN)
class Source:
    """How a snapshot was captured."""

    kind: Literal["tox-env", "plain-pytest", "cli", "pytest-run", "nox-session"]
    name: Optional[str] = None
    description: str = ""


@dataclasses.dataclass(**_FROZEN)
class Meta:
    tool_version: str
    created: str
    host: str
    source: Source
    invocation: Literal["pytest", "python-m", "pytest-run"]
    command: tuple[str, ...]
    cwd: str
    duration_s: float = 0.0


@dataclasses.dataclass(**_FROZEN)
class InterpreterSection:
    executable: str
    version: str
    implementation: str
    prefix: str
    base_prefix: str
    in_venv: bool
    venv_creator: Optional[str]
    pyvenv_cfg: Mapping[str, str]
    flags: Mapping[str, int]
    hashseed: Optional[str]
    platform: str


@dataclasses.dataclass(**_FROZEN)
class EnvVar:
    """One environment variable. ``value`` is already redacted when ``secret`` is true."""

    name: str
    value: str
    secret: bool
    fingerprint: str


@dataclasses.dataclass(**_FROZEN)
class EnvRead:
    """A read of ``os.environ`` by some code: which variable, where, and whether it was set."""

    name: str
    present: bool
    how: Literal["getitem", "get", "contains", "getenv", "pop", "setdefault"]
    phase: Phase
    file: Optional[str]
    line: Optional[int]
    module: Optional[str]


@dataclasses.dataclass(**_FROZEN)
class EnvWrite:
    """A change to ``os.environ`` made by some code during start-up or collection."""

    name: str
    how: Literal["setitem", "delitem", "pop", "setdefault"]
    phase: Phase
    file: Optional[str]
    line: Optional[int]
    module: Optional[str]
    value: Optional[str] = None  # redacted like every value; None for deletions


@dataclasses.dataclass(**_FROZEN)
class EnvironSection:
    variables: tuple[EnvVar, ...]
    reads: tuple[EnvRead, ...]
    fingerprint_key_id: str
    writes: tuple[EnvWrite, ...] = ()


@dataclasses.dataclass(**_FROZEN)
class SysPathEntry:
    path: str
    origin: Literal[
        "invocation",
        "pythonpath",
        "stdlib",
        "site-packages",
        "user-site",
        "pth",
        "pytest-rootdir",
        "conftest",
        "pythonpath-ini",
        "runtime",
        "unknown",
    ]
    detail: Optional[str]
    exists: bool


@dataclasses.dataclass(**_FROZEN)
class PthFile:
    path: str
    name: str
    path_lines: tuple[str, ...]
    exec_lines: tuple[str, ...]
    known: Optional[str]
    added_paths: tuple[str, ...]
    imported: tuple[str, ...]
    processed: bool


@dataclasses.dataclass(**_FROZEN)
class CustomizeFile:
    """``sitecustomize`` or ``usercustomize`` as found at start-up."""

    module: str
    path: Optional[str]
    sha256: Optional[str]
    imported: tuple[str, ...]
    error: Optional[str] = None


@dataclasses.dataclass(**_FROZEN)
class StartupModule:
    name: str
    file: Optional[str]
    by: Optional[str]


@dataclasses.dataclass(**_FROZEN)
class StartupSection:
    pth_files: tuple[PthFile, ...]
    sitecustomize: Optional[CustomizeFile]
    usercustomize: Optional[CustomizeFile]
    user_site: Optional[str]
    user_site_enabled: bool
    modules: tuple[StartupModule, ...]


@dataclasses.dataclass(**_FROZEN)
class Distribution:
    name: str
    raw_name: str
    version: str
    location: str
    installer: Optional[str]
    editable: bool
    direct_url: Optional[str]
    source_path: Optional[str]
    requested: bool
    top_level: tuple[str, ...]
    shadowed: bool = False


@dataclasses.dataclass(**_FROZEN)
class PytestPlugin:
    name: str
    module: Optional[str]
    file: Optional[str]
    distribution: Optional[str]
    how: Literal["builtin", "entry-point", "-p", "PYTEST_PLUGINS", "conftest", "pytest_plugins", "other"]


@dataclasses.dataclass(**_FROZEN)
class CollectionError:
    nodeid: str
    message: str


@dataclasses.dataclass(**_FROZEN)
class PytestSection:
    available: bool
    version: Optional[str] = None
    invocation: Optional[str] = None
    args: tuple[str, ...] = ()
    rootdir: Optional[str] = None
    inifile: Optional[str] = None
    addopts: tuple[str, ...] = ()
    import_mode: Optional[str] = None
    testpaths: tuple[str, ...] = ()
    ini_pythonpath: tuple[str, ...] = ()
    unknown_ini_keys: tuple[str, ...] = ()
    plugins: tuple[PytestPlugin, ...] = ()
    conftests: tuple[str, ...] = ()
    collection_errors: tuple[CollectionError, ...] = ()
    collected: int = 0
    exit_code: Optional[int] = None


@dataclasses.dataclass(**_FROZEN)
class ImportEvent:
    module: str
    phase: Phase
    importer: Optional[str]
    importer_file: Optional[str]
    importer_line: Optional[int]


@dataclasses.dataclass(**_FROZEN)
class DoubleImport:
    file: str
    names: tuple[str, ...]


@dataclasses.dataclass(**_FROZEN)
class ModuleOrigin:
    module: str
    file: Optional[str]
    in_project: bool
    distribution: Optional[str]


@dataclasses.dataclass(**_FROZEN)
class PackageFile:
    path: str  # relative to the package directory, "/"-separated
    size: int
    sha256: Optional[str]


@dataclasses.dataclass(**_FROZEN)
class PackageFiles:
    """The files of one imported project package, where this interpreter found it."""

    name: str
    root: str
    files: tuple[PackageFile, ...]
    truncated: bool = False


@dataclasses.dataclass(**_FROZEN)
class ImportsSection:
    timeline: tuple[ImportEvent, ...]
    double_imports: tuple[DoubleImport, ...]
    origins: tuple[ModuleOrigin, ...]
    packages: tuple[PackageFiles, ...] = ()


@dataclasses.dataclass(**_FROZEN)
class BrokerInfo:
    """A broker object, identified within the snapshot by ``id``."""

    id: str
    cls: str
    target: Optional[str]
    kind: Literal["stub", "rabbitmq", "redis", "other"]
    url: Optional[str] = None  # redacted, e.g. amqp://user:***@host:5672/%2F


@dataclasses.dataclass(**_FROZEN)
class DramatiqActor:
    name: str
    module: Optional[str]
    queue: str
    broker_id: Optional[str]
    broker_class: Optional[str]
    broker_target: Optional[str]
    bound_to_global: bool
    file: Optional[str] = None
    line: Optional[int] = None
    phase: Optional[Phase] = None  # when the actor was declared (bound)


@dataclasses.dataclass(**_FROZEN)
class CallSite:
    file: Optional[str]
    line: Optional[int]
    module: Optional[str] = None


@dataclasses.dataclass(**_FROZEN)
class BrokerCreation:
    broker_id: str
    cls: str
    implicit_default: bool
    phase: Phase
    file: Optional[str]
    line: Optional[int]
    target: Optional[str]
    module: Optional[str] = None
    #: Non-library frames that led to the creation, innermost first (e.g. the module with
    #: ``@dramatiq.actor``, then the pytest plugin / ``.pth`` / conftest that imported it).
    stack: tuple[CallSite, ...] = ()


@dataclasses.dataclass(**_FROZEN)
class BrokerSet:
    """A ``dramatiq.set_broker()`` call (``implicit_default``: made by ``get_broker()``)."""

    broker_id: Optional[str]
    cls: str
    implicit_default: bool
    phase: Phase
    file: Optional[str]
    line: Optional[int]
    module: Optional[str] = None


@dataclasses.dataclass(**_FROZEN)
class BrokerUrl:
    variable: str
    url: str
    scheme: Optional[str]
    target: Optional[str]


@dataclasses.dataclass(**_FROZEN)
class CeleryUrl:
    setting: str
    url: str
    source: str


@dataclasses.dataclass(**_FROZEN)
class Reachability:
    target: str
    protocol: Literal["amqp", "redis", "tcp"]
    status: Literal["reachable", "refused", "timeout", "wrong-protocol", "unresolvable", "error", "skipped"]
    detail: str = ""
    elapsed_ms: Optional[float] = None


@dataclasses.dataclass(**_FROZEN)
class BrokersSection:
    captured: bool
    dramatiq_installed: bool = False
    dramatiq_version: Optional[str] = None
    pika_installed: bool = False
    redis_installed: bool = False
    global_broker: Optional[BrokerInfo] = None
    brokers: tuple[BrokerInfo, ...] = ()
    actors: tuple[DramatiqActor, ...] = ()
    creations: tuple[BrokerCreation, ...] = ()
    env_urls: tuple[BrokerUrl, ...] = ()
    celery_urls: tuple[CeleryUrl, ...] = ()
    reachability: tuple[Reachability, ...] = ()
    dramatiq_imported: bool = False
    instrumented: bool = False
    set_calls: tuple[BrokerSet, ...] = ()


@dataclasses.dataclass(**_FROZEN)
class ProbeIssue:
    section: str
    message: str


@dataclasses.dataclass(**_FROZEN)
class Snapshot:
    schema: str
    schema_version: int
    meta: Meta
    interpreter: InterpreterSection
    environ: EnvironSection
    sys_path: tuple[SysPathEntry, ...]
    startup: StartupSection
    distributions: tuple[Distribution, ...]
    pytest: PytestSection
    imports: ImportsSection
    brokers: BrokersSection
    errors: tuple[ProbeIssue, ...] = ()


# --------------------------------------------------------------------------- loading

_T = TypeVar("_T")
_NoneType = type(None)
_UNION_TYPES: tuple[Any, ...] = (Union,)
if sys.version_info >= (3, 10):  # pragma: no branch
    _UNION_TYPES = (Union, types.UnionType)


def _fail(where: str, problem: str) -> SnapshotError:
    return SnapshotError(f"not a valid snapshot: {where}: {problem}")


def _convert(tp: Any, value: Any, where: str) -> Any:
    if tp is Any:
        return value
    origin = get_origin(tp)
    if origin in _UNION_TYPES:
        args = get_args(tp)
        if value is None:
            if _NoneType in args:
                return None
            raise _fail(where, "is null")
        others = [a for a in args if a is not _NoneType]
        if len(others) == 1:
            return _convert(others[0], value, where)
        errors = []
        for arg in others:
            try:
                return _convert(arg, value, where)
            except SnapshotError as exc:
                errors.append(str(exc))
        raise _fail(where, "matches none of the allowed types")
    if origin is Literal:
        if value not in get_args(tp):
            raise _fail(where, f"{value!r} is not one of {', '.join(map(repr, get_args(tp)))}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise _fail(where, f"expected a list, got {type(value).__name__}")
        (item_tp, _ellipsis) = get_args(tp)
        return tuple(_convert(item_tp, item, f"{where}[{i}]") for i, item in enumerate(value))
    if origin in (Mapping, dict):
        if not isinstance(value, dict):
            raise _fail(where, f"expected an object, got {type(value).__name__}")
        key_tp, val_tp = get_args(tp)
        return {
            _convert(key_tp, k, f"{where} key"): _convert(val_tp, v, f"{where}.{k}") for k, v in value.items()
        }
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _from_dict(tp, value, where)
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(where, f"expected true/false, got {type(value).__name__}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(where, f"expected an integer, got {type(value).__name__}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(where, f"expected a number, got {type(value).__name__}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _fail(where, f"expected a string, got {type(value).__name__}")
        return value
    raise TypeError(f"unsupported field type {tp!r} at {where}")  # pragma: no cover - model bug


_HINTS: dict[type, dict[str, Any]] = {}


def _from_dict(cls: type[_T], data: Any, where: str) -> _T:
    if not isinstance(data, dict):
        raise _fail(where, f"expected an object, got {type(data).__name__}")
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        # ``cls`` is a "reserved" word only in our Python API; the JSON says "class".
        key = "class" if field.name == "cls" else field.name
        if key not in data:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise _fail(where, f"missing field {key!r}")
            continue
        kwargs[field.name] = _convert(hints[field.name], data[key], f"{where}.{key}")
    return cls(**kwargs)


def snapshot_from_dict(data: Any) -> Snapshot:
    """Validate a decoded JSON value and build a :class:`Snapshot` from it."""
    if not isinstance(data, dict):
        raise SnapshotError(f"not a snapshot: expected a JSON object, got {type(data).__name__}")
    schema = data.get("schema")
    if schema != SCHEMA:
        raise SnapshotError(f"not a tox-broker-audit snapshot (schema is {schema!r}, expected {SCHEMA!r})")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SnapshotError(
            f"unsupported snapshot schema_version {version!r}: this tox-broker-audit reads version "
            f"{SCHEMA_VERSION}; re-capture it with this version or upgrade"
        )
    return _from_dict(Snapshot, data, "snapshot")


def _to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for field in dataclasses.fields(value):
            key = "class" if field.name == "cls" else field.name
            out[key] = _to_jsonable(getattr(value, field.name))
        return out
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    return value


def snapshot_to_dict(snapshot: Snapshot) -> dict[str, Any]:
    result: dict[str, Any] = _to_jsonable(snapshot)
    return result


def load_snapshot(path: "Union[str, Path]") -> Snapshot:
    """Read and validate a snapshot file; every problem is a one-line :class:`SnapshotError`."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SnapshotError(f"snapshot file not found: {file}") from None
    except IsADirectoryError:
        raise SnapshotError(f"snapshot path is a directory, not a file: {file}") from None
    except UnicodeDecodeError:
        raise SnapshotError(f"{file}: not a snapshot (not UTF-8 text)") from None
    except OSError as exc:
        raise SnapshotError(f"cannot read snapshot {file}: {exc.strerror or exc}") from None
    if not text.strip():
        raise SnapshotError(f"{file}: empty file, not a snapshot")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SnapshotError(
            f"{file}: not a snapshot (invalid or truncated JSON at line {exc.lineno}, column {exc.colno})"
        ) from None
    try:
        return snapshot_from_dict(data)
    except SnapshotError as exc:
        raise SnapshotError(f"{file}: {exc}") from None


def dump_snapshot(snapshot: Snapshot, path: "Union[str, Path]") -> None:
    """Write ``snapshot`` as JSON (atomically, so a crash never leaves half a file)."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.name}.tmp")
    tmp.write_text(json.dumps(snapshot_to_dict(snapshot), indent=1, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(file)
