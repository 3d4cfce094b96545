"""The snapshot model: frozen dataclasses mirroring the snapshot JSON (docs/snapshot.md).

The probe (``probe/``) writes plain JSON inside the audited interpreter; :mod:`.io` turns
such a file back into these typed objects, strictly.

The module deliberately avoids ``from __future__ import annotations`` and PEP 604 unions:
the field types are evaluated at run time by the loader, also on Python 3.9.
"""

import dataclasses
import sys
from collections.abc import Mapping
from typing import Literal, Optional, Union, get_args

from tox_broker_audit.probe._tba_schema import SCHEMA, SCHEMA_VERSION

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "BrokerCreation",
    "BrokerInfo",
    "BrokerSet",
    "BrokerUrl",
    "BrokersSection",
    "CallSite",
    "CeleryApp",
    "CeleryCall",
    "CelerySection",
    "CelerySetting",
    "CeleryUrl",
    "CollectionError",
    "Connection",
    "CustomizeFile",
    "Distribution",
    "DoubleImport",
    "DramatiqActor",
    "EnvRead",
    "EnvVar",
    "EnvWrite",
    "EnvironSection",
    "FailedImport",
    "FileOpen",
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
    "TestOutcome",
    "emulated_command",
]


_FROZEN = {"frozen": True}
if sys.version_info >= (3, 10):  # pragma: no branch - slots need 3.10
    _FROZEN["slots"] = True

#: Phases of a test run, in order. ``startup`` is interpreter start-up (``.pth`` files,
#: ``sitecustomize``); ``pytest-import`` is importing pytest itself; ``plugin-load`` covers
#: entry-point, ``-p`` and ``PYTEST_PLUGINS`` plugins; ``conftest`` the initial conftests;
#: ``configure`` the ``pytest_configure`` calls; ``collection`` the collection of tests;
#: ``test`` running them (only in a snapshot of the test oracle's run).
Phase = Literal[
    "startup", "pytest-import", "plugin-load", "conftest", "configure", "collection", "test", "unknown"
]
PHASES: tuple[str, ...] = get_args(Phase)


@dataclasses.dataclass(**_FROZEN)
class Source:
    """How a snapshot was captured."""

    #: ``reference``: a saved tox env snapshot loaded as the reference of a drift check
    #: (:mod:`.reference`): set when loading, never in a file the probe writes.
    kind: Literal["tox-env", "plain-pytest", "cli", "pytest-run", "nox-session", "reference"]
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
    #: The project the audit ran for (tox's root, nox's project, the CLI's cwd): the anchor
    #: ``<project>`` of relocatable comparison (:mod:`.anchors`). None in older snapshots.
    project_root: Optional[str] = None


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
    """A read of ``os.environ`` by some code: which variable, where, and whether it was set.

    ``name`` is ``*`` for a read of the whole environment at that site: ``how = "iter"`` (the
    code iterated it: ``dict(os.environ)``, ``os.environ.copy()``, ``for k in os.environ``,
    ``items()``), or any other ``how`` when more than 15 variables were read from one line.
    """

    name: str
    present: bool
    how: Literal["getitem", "get", "contains", "getenv", "pop", "setdefault", "iter"]
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
    #: ``Requires-Dist`` names (canonical, markers and extras ignored); absent in older files.
    requires: tuple[str, ...] = ()


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
class TestOutcome:
    """One test the oracle's run ran: ``id`` is ``/abs/file.py::name`` (compares across rootdirs)."""

    nodeid: str
    id: str
    outcome: Literal["passed", "failed", "skipped"]
    #: The last line of its failure (``E ...``), redacted; empty when it did not fail.
    message: str = ""


@dataclasses.dataclass(**_FROZEN)
class Connection:
    """A ``socket.connect`` the tests made: where to, whether it answered, from which line."""

    endpoint: str
    answered: bool
    file: Optional[str] = None
    line: Optional[int] = None
    phase: Optional[Phase] = None


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
    #: Why pytest stopped before collecting (a conftest that raised on import): the exception
    #: line it printed, redacted. ``None`` when collection ran.
    crash: Optional[str] = None
    #: Collected as pytest-xdist worker ``gw0`` sees the run (the command runs ``-n``).
    xdist_worker: bool = False
    #: Why the probe did not run pytest at all (a command the audit cannot emulate); ``None``
    #: when it collected as the command would.
    not_collected: Optional[str] = None
    #: The tests the oracle's run ran, with their outcomes (empty: the run only collected).
    tests: tuple[TestOutcome, ...] = ()
    #: The connections those tests made (audit event ``socket.connect``).
    connections: tuple[Connection, ...] = ()


@dataclasses.dataclass(**_FROZEN)
class ImportEvent:
    module: str
    phase: Phase
    importer: Optional[str]
    importer_file: Optional[str]
    importer_line: Optional[int]
    #: For imports before any conftest ran: the modules on the call stack above the importer,
    #: innermost first (``django.apps.registry``, ``django``, ``pytest_django.plugin``, …), so
    #: an import made by a library on a plugin's behalf is attributed to that plugin.
    via: tuple[str, ...] = ()


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
class FailedImport:
    """An import no finder found (``ModuleNotFoundError``), asked for by the project's code or a
    library's: ``try: import redis / except ImportError``. Not the stdlib's, pytest's or pluggy's."""

    module: str
    phase: Phase
    file: str  # the importing code (for start-up, the ``.pth`` file)
    line: Optional[int]
    importer: Optional[str]  # its module
    in_project: bool = False


@dataclasses.dataclass(**_FROZEN)
class ImportsSection:
    timeline: tuple[ImportEvent, ...]
    double_imports: tuple[DoubleImport, ...]
    origins: tuple[ModuleOrigin, ...]
    packages: tuple[PackageFiles, ...] = ()
    #: Imports that failed: one per module and importing line, at most 500; older files have none.
    failed: tuple[FailedImport, ...] = ()


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


#: Where a Celery app's effective setting came from (``probe/_tba_celery.py``): an environment
#: variable Celery reads first, a ``Celery()`` argument, code that set ``app.conf``, the
#: configuration object (``config_from_object``), defaults added with ``add_defaults`` (Celery's
#: ``TestApp``), Celery's own default.
CelerySource = Literal["env", "argument", "code", "config", "defaults", "default", "unknown"]


@dataclasses.dataclass(**_FROZEN)
class CelerySetting:
    name: str  # broker_url, result_backend, task_always_eager, ...
    value: Union[bool, str, None]  # URLs redacted
    source: CelerySource
    #: The variable (``CELERY_BROKER_URL``), or ``"<config object> as <key>"``.
    detail: Optional[str] = None


@dataclasses.dataclass(**_FROZEN)
class CeleryApp:
    id: str  # the app's main name (``#n`` for a second app of that name)
    main: Optional[str]
    #: Celery's fallback ``default`` app, made because a task asked for ``current_app`` when no
    #: app existed (the project's app module was never imported).
    fallback: bool
    is_default: bool
    phase: Optional[Phase]
    file: Optional[str]
    line: Optional[int]
    module: Optional[str] = None
    config_source: Optional[str] = None
    namespace: Optional[str] = None
    fixups: tuple[str, ...] = ()
    settings: tuple[CelerySetting, ...] = ()
    #: Loading the configuration raised (a missing ``celeryconfig``, Django not configured).
    config_error: Optional[str] = None
    tasks: tuple[str, ...] = ()


@dataclasses.dataclass(**_FROZEN)
class CeleryCall:
    """``delay()``/``apply_async()`` calls of one task from one line with one outcome."""

    task: str
    app_id: Optional[str]
    outcome: Literal["eager", "sent", "error"]
    eager: Optional[bool]
    broker: Optional[str]
    broker_target: Optional[str]  # host:port; None for memory:// and the like
    backend: Optional[str]
    backend_target: Optional[str]
    error: Optional[str]
    error_side: Optional[Literal["broker", "backend"]]
    phase: Optional[Phase]
    file: Optional[str]
    line: Optional[int]
    count: int = 1
    connected: tuple[str, ...] = ()  # broker URIs kombu tried to connect to during the call
    thread: Optional[str] = None


@dataclasses.dataclass(**_FROZEN)
class CelerySection:
    imported: bool = False
    version: Optional[str] = None
    instrumented: tuple[str, ...] = ()
    late: bool = False
    default_app: Optional[str] = None
    apps: tuple[CeleryApp, ...] = ()
    calls: tuple[CeleryCall, ...] = ()
    errors: tuple[str, ...] = ()


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
    #: What Celery did (``probe/_tba_celery.py``); absent in older snapshots.
    celery: CelerySection = dataclasses.field(default_factory=CelerySection)


@dataclasses.dataclass(**_FROZEN)
class FileOpen:
    """A file the project opened for reading by a path relative to the working directory."""

    path: str  # as the code gave it
    resolved: str  # where it resolved from the cwd
    exists: bool  # False: the open failed (or the code checked and fell back)
    phase: Phase
    file: Optional[str]
    line: Optional[int]
    module: Optional[str] = None


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
    #: Files opened relative to the cwd (``probe/_tba_files.py``); older snapshots have none.
    opens: tuple[FileOpen, ...] = ()


def emulated_command(snapshot: Snapshot) -> str:
    """One line saying what a snapshot emulates (shown in reports)."""
    meta = snapshot.meta
    return f"{' '.join(meta.command) or meta.invocation} in {meta.cwd} ({snapshot.interpreter.executable})"
