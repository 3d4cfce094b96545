"""Structural diff of two snapshots, section by section (pure functions over the snapshot model).

The diff says *what* differs; the rules (``_rules/``) decide what it *means*. Paths are
compared relative to their anchors (:func:`normalize_path`, :mod:`.snapshot.anchors`): each
side's env prefix becomes ``<prefix>``, its Python installation ``<base>``, tox's work dir
``<toxworkdir>``, the project ``<project>`` and the home ``<home>``, so that
``/home/u/p/.venv/lib/…`` and ``/home/u/p/.tox/py/lib/…`` compare equal — the two venvs always
live in different places, which is not a finding — and so does a reference snapshot saved in
another checkout, by another user, on another machine (docs/ci.md).

Environment values are compared through their keyed fingerprints when both snapshots were
taken with the same fingerprint key (``environ.fingerprint_key_id``); otherwise through the
redacted values, and a secret (or partly redacted) value is reported as ``uncomparable``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from tox_broker_audit.probe._tba_redact import MASK
from tox_broker_audit.snapshot.anchors import anchors_of
from tox_broker_audit.snapshot.model import (
    CollectionError,
    CustomizeFile,
    Distribution,
    DoubleImport,
    EnvVar,
    FailedImport,
    ModuleOrigin,
    PthFile,
    PytestPlugin,
    Snapshot,
    SysPathEntry,
)

__all__ = [
    "CustomizeChange",
    "DistChange",
    "EnvChange",
    "FieldChange",
    "OriginChange",
    "PluginChange",
    "PthChange",
    "SnapshotDiff",
    "SysPathDiff",
    "diff_snapshots",
    "normalize_path",
]

_FROZEN: dict[str, bool] = {"frozen": True}
if sys.version_info >= (3, 10):  # pragma: no branch
    _FROZEN["slots"] = True

OneSide = Literal["missing", "extra", "changed"]


@dataclasses.dataclass(**_FROZEN)
class EnvChange:
    """``missing``: only in the baseline; ``added``: only in the target; ``changed``: values
    differ; ``uncomparable``: present on both sides but the values cannot be compared (secret,
    fingerprints made with different keys)."""

    name: str
    kind: Literal["missing", "added", "changed", "uncomparable"]
    baseline: EnvVar | None
    target: EnvVar | None


@dataclasses.dataclass(**_FROZEN)
class FieldChange:
    field: str
    baseline: Any
    target: Any


@dataclasses.dataclass(**_FROZEN)
class DistChange:
    name: str
    kind: Literal["missing", "extra", "version", "install-mode"]
    baseline: Distribution | None
    target: Distribution | None


@dataclasses.dataclass(**_FROZEN)
class PthChange:
    name: str
    kind: OneSide
    baseline: PthFile | None
    target: PthFile | None
    exec_changed: bool
    path_changed: bool


@dataclasses.dataclass(**_FROZEN)
class CustomizeChange:
    module: str  # "sitecustomize" | "usercustomize"
    kind: OneSide
    baseline: CustomizeFile | None
    target: CustomizeFile | None


@dataclasses.dataclass(**_FROZEN)
class SysPathDiff:
    """Normalised ``sys.path`` of both sides and the entries only one side has."""

    baseline: tuple[str, ...]
    target: tuple[str, ...]
    missing: tuple[SysPathEntry, ...]  # only in the baseline
    extra: tuple[SysPathEntry, ...]  # only in the target
    first_changed: bool
    order_changed: bool

    @property
    def changed(self) -> bool:
        return bool(self.missing or self.extra or self.first_changed or self.order_changed)


@dataclasses.dataclass(**_FROZEN)
class PluginChange:
    name: str
    kind: OneSide
    baseline: PytestPlugin | None
    target: PytestPlugin | None


@dataclasses.dataclass(**_FROZEN)
class OriginChange:
    module: str
    kind: OneSide
    baseline: ModuleOrigin | None
    target: ModuleOrigin | None


@dataclasses.dataclass(**_FROZEN)
class SnapshotDiff:
    """Every structural difference between ``baseline`` and ``target``."""

    comparable_fingerprints: bool
    environ: tuple[EnvChange, ...]
    interpreter: tuple[FieldChange, ...]
    distributions: tuple[DistChange, ...]
    pth_files: tuple[PthChange, ...]
    customize: tuple[CustomizeChange, ...]
    sys_path: SysPathDiff
    pytest_config: tuple[FieldChange, ...]
    plugins: tuple[PluginChange, ...]
    plugin_order: FieldChange | None
    conftests_missing: tuple[str, ...]
    conftests_extra: tuple[str, ...]
    unknown_ini_missing: tuple[str, ...]
    unknown_ini_extra: tuple[str, ...]
    collection_errors_missing: tuple[CollectionError, ...]
    collection_errors_extra: tuple[CollectionError, ...]
    double_imports_missing: tuple[DoubleImport, ...]
    double_imports_extra: tuple[DoubleImport, ...]
    origins: tuple[OriginChange, ...]
    #: Modules whose import failed on one side only (``imports.failed``), first attempt of each.
    failed_imports_missing: tuple[FailedImport, ...] = ()  # failed in the baseline only
    failed_imports_extra: tuple[FailedImport, ...] = ()  # failed in the target only

    @property
    def empty(self) -> bool:
        return not (
            self.environ
            or self.interpreter
            or self.distributions
            or self.pth_files
            or self.customize
            or self.sys_path.changed
            or self.pytest_config
            or self.plugins
            or self.plugin_order
            or self.conftests_missing
            or self.conftests_extra
            or self.unknown_ini_missing
            or self.unknown_ini_extra
            or self.collection_errors_missing
            or self.collection_errors_extra
            or self.double_imports_missing
            or self.double_imports_extra
            or self.origins
            or self.failed_imports_missing
            or self.failed_imports_extra
        )


# --------------------------------------------------------------------------- helpers


def normalize_path(path: str | None, snapshot: Snapshot) -> str | None:
    """``path`` relative to the most specific anchor of its own snapshot (``<prefix>/lib/…``)."""
    return anchors_of(snapshot).path(path)


def _by_name(items: Iterable[Any], key: str = "name") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        out.setdefault(getattr(item, key), item)
    return out


def _env_changes(baseline: Snapshot, target: Snapshot) -> tuple[bool, tuple[EnvChange, ...]]:
    same_key = baseline.environ.fingerprint_key_id == target.environ.fingerprint_key_id
    base = _by_name(baseline.environ.variables)
    tgt = _by_name(target.environ.variables)
    changes: list[EnvChange] = []
    for name in sorted(set(base) | set(tgt)):
        b, t = base.get(name), tgt.get(name)
        if t is None:
            changes.append(EnvChange(name, "missing", b, None))
        elif b is None:
            changes.append(EnvChange(name, "added", None, t))
        elif same_key and b.fingerprint == t.fingerprint:
            continue
        elif b.secret or t.secret or MASK in b.value or MASK in t.value:
            if not same_key:
                changes.append(EnvChange(name, "uncomparable", b, t))
            else:
                changes.append(EnvChange(name, "changed", b, t))
        elif anchors_of(baseline).value(b.value) != anchors_of(target).value(t.value):
            changes.append(EnvChange(name, "changed", b, t))
    return same_key, tuple(changes)


_INTERPRETER_FIELDS = ("version", "implementation", "platform", "venv_creator", "in_venv")


def _interpreter_changes(baseline: Snapshot, target: Snapshot) -> tuple[FieldChange, ...]:
    b, t = baseline.interpreter, target.interpreter
    out = [
        FieldChange(name, getattr(b, name), getattr(t, name))
        for name in _INTERPRETER_FIELDS
        if getattr(b, name) != getattr(t, name)
    ]
    # Another machine has its Python elsewhere (a reference saved on a laptop, compared on a CI
    # runner): the version says what matters; on one machine another base is another Python.
    same_host = baseline.meta.host == target.meta.host
    if same_host and os.path.normpath(b.base_prefix) != os.path.normpath(t.base_prefix):
        out.append(FieldChange("base_prefix", b.base_prefix, t.base_prefix))
    for flag in sorted(set(b.flags) | set(t.flags)):
        if b.flags.get(flag) != t.flags.get(flag):
            out.append(FieldChange(f"flags.{flag}", b.flags.get(flag), t.flags.get(flag)))
    if b.hashseed != t.hashseed:
        out.append(FieldChange("hashseed", b.hashseed, t.hashseed))
    return tuple(out)


def _dist_where(dist: Distribution, snapshot: Snapshot) -> tuple[bool, str | None]:
    if dist.editable:
        return True, normalize_path(dist.source_path or dist.location, snapshot)
    return False, normalize_path(dist.location, snapshot)


def same_version(a: str, b: str) -> bool:
    """Equal as versions (PEP 440: ``1.0 == 1.0.0``), else as strings."""
    if a == b:
        return True
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False


def _dists(snapshot: Snapshot) -> dict[str, Distribution]:
    """Importable distributions by canonical name (PEP 503), the first on ``sys.path`` wins."""
    out: dict[str, Distribution] = {}
    for dist in snapshot.distributions:
        name = canonicalize_name(dist.name)
        if not dist.shadowed and name != _OWN_DIST:
            out.setdefault(name, dist)
    return out


def _dist_changes(baseline: Snapshot, target: Snapshot) -> tuple[DistChange, ...]:
    base, tgt = _dists(baseline), _dists(target)
    out: list[DistChange] = []
    for name in sorted(set(base) | set(tgt)):
        b, t = base.get(name), tgt.get(name)
        if t is None:
            out.append(DistChange(name, "missing", b, None))
        elif b is None:
            out.append(DistChange(name, "extra", None, t))
        else:
            if not same_version(b.version, t.version):
                out.append(DistChange(name, "version", b, t))
            if _dist_where(b, baseline) != _dist_where(t, target):
                out.append(DistChange(name, "install-mode", b, t))
    return tuple(out)


def _pth_changes(baseline: Snapshot, target: Snapshot) -> tuple[PthChange, ...]:
    base = _by_name(p for p in baseline.startup.pth_files if _OWN_TOP not in p.name)
    tgt = _by_name(p for p in target.startup.pth_files if _OWN_TOP not in p.name)
    out: list[PthChange] = []
    for name in sorted(set(base) | set(tgt)):
        b, t = base.get(name), tgt.get(name)
        if b is None or t is None:
            one = b or t
            assert one is not None
            kind: OneSide = "missing" if t is None else "extra"
            out.append(PthChange(name, kind, b, t, bool(one.exec_lines), bool(one.path_lines)))
            continue
        exec_changed = b.exec_lines != t.exec_lines
        b_paths = [normalize_path(p, baseline) for p in b.path_lines]
        t_paths = [normalize_path(p, target) for p in t.path_lines]
        path_changed = b_paths != t_paths
        if exec_changed or path_changed:
            out.append(PthChange(name, "changed", b, t, exec_changed, path_changed))
    return tuple(out)


def _customize_changes(baseline: Snapshot, target: Snapshot) -> tuple[CustomizeChange, ...]:
    out: list[CustomizeChange] = []
    for module in ("sitecustomize", "usercustomize"):
        b: CustomizeFile | None = getattr(baseline.startup, module)
        t: CustomizeFile | None = getattr(target.startup, module)
        if b is not None and b.path is None and b.error:
            b = None  # "import failed" with no file: there is none
        if t is not None and t.path is None and t.error:
            t = None
        if b is None and t is None:
            continue
        if t is None:
            out.append(CustomizeChange(module, "missing", b, None))
        elif b is None:
            out.append(CustomizeChange(module, "extra", None, t))
        elif b.sha256 != t.sha256 or b.imported != t.imported:
            out.append(CustomizeChange(module, "changed", b, t))
    return tuple(out)


def _sys_path_diff(baseline: Snapshot, target: Snapshot) -> SysPathDiff:
    b_norm = [normalize_path(e.path, baseline) or "" for e in baseline.sys_path]
    t_norm = [normalize_path(e.path, target) or "" for e in target.sys_path]
    b_set, t_set = set(b_norm), set(t_norm)
    missing = tuple(e for e, n in zip(baseline.sys_path, b_norm) if n not in t_set)
    extra = tuple(e for e, n in zip(target.sys_path, t_norm) if n not in b_set)
    common_b = [n for n in b_norm if n in t_set]
    common_t = [n for n in t_norm if n in b_set]
    first_changed = bool(b_norm and t_norm and b_norm[0] != t_norm[0]) or (bool(b_norm) != bool(t_norm))
    return SysPathDiff(tuple(b_norm), tuple(t_norm), missing, extra, first_changed, common_b != common_t)


def _config_value(snapshot: Snapshot, field: str, *, anchored: bool = True) -> Any:
    pytest = snapshot.pytest
    value = getattr(pytest, field)
    if field in ("rootdir", "inifile") and anchored:
        return normalize_path(value, snapshot)
    if field in ("testpaths", "ini_pythonpath", "addopts"):
        return tuple(value)
    return value


_CONFIG_FIELDS = ("inifile", "rootdir", "addopts", "import_mode", "testpaths", "ini_pythonpath", "invocation")


def _pytest_changes(baseline: Snapshot, target: Snapshot) -> tuple[FieldChange, ...]:
    if not (baseline.pytest.available and target.pytest.available):
        if baseline.pytest.available != target.pytest.available:
            return (FieldChange("available", baseline.pytest.available, target.pytest.available),)
        return ()
    out = []
    for field in _CONFIG_FIELDS:
        if _config_value(baseline, field) != _config_value(target, field):
            # compared relative to the anchors, shown as recorded (the rules show paths relative
            # to the project, and point at the ini file)
            b, t = (
                _config_value(baseline, field, anchored=False),
                _config_value(target, field, anchored=False),
            )
            out.append(FieldChange(field, b, t))
    return tuple(out)


#: The audit's own footprint: installed next to tox (often in the developer's venv, editable in
#: ours: ``__editable__.tox_broker_audit-….pth``), its pytest plugin loads in the local run. It is
#: never a difference between the user's two runs.
_OWN_TOP = "tox_broker_audit"
_OWN_DIST = "tox-broker-audit"


def _is_own_module(module: str | None) -> bool:
    return (module or "").partition(".")[0] == _OWN_TOP


def _is_own_plugin(plugin: PytestPlugin) -> bool:
    dist = canonicalize_name(plugin.distribution) if plugin.distribution else ""
    return dist == _OWN_DIST or _is_own_module(plugin.module)


def _plugin_key(plugin: PytestPlugin) -> tuple[str | None, str | None, str]:
    return (plugin.distribution, plugin.module, plugin.how)


def _plugin_changes(
    baseline: Snapshot, target: Snapshot
) -> tuple[tuple[PluginChange, ...], FieldChange | None]:
    base = _by_name(p for p in baseline.pytest.plugins if p.how != "conftest" and not _is_own_plugin(p))
    tgt = _by_name(p for p in target.pytest.plugins if p.how != "conftest" and not _is_own_plugin(p))
    out: list[PluginChange] = []
    for name in sorted(set(base) | set(tgt), key=lambda n: (n not in base, n)):
        b, t = base.get(name), tgt.get(name)
        if t is None:
            out.append(PluginChange(name, "missing", b, None))
        elif b is None:
            out.append(PluginChange(name, "extra", None, t))
        elif _plugin_key(b) != _plugin_key(t):
            out.append(PluginChange(name, "changed", b, t))
    common = set(base) & set(tgt)
    b_order = tuple(p.name for p in baseline.pytest.plugins if p.name in common and p.how != "builtin")
    t_order = tuple(p.name for p in target.pytest.plugins if p.name in common and p.how != "builtin")
    order = FieldChange("plugin_order", b_order, t_order) if b_order != t_order else None
    return tuple(out), order


def _one_sided(baseline: Sequence[str], target: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    b, t = set(baseline), set(target)
    return tuple(x for x in baseline if x not in t), tuple(x for x in target if x not in b)


def _one_sided_paths(
    baseline: Sequence[str], target: Sequence[str], b_snap: Snapshot, t_snap: Snapshot
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Like :func:`_one_sided` for paths, compared relative to their anchors."""
    b = {normalize_path(p, b_snap) for p in baseline}
    t = {normalize_path(p, t_snap) for p in target}
    return (
        tuple(p for p in baseline if normalize_path(p, b_snap) not in t),
        tuple(p for p in target if normalize_path(p, t_snap) not in b),
    )


def _errors_diff(
    baseline: Snapshot, target: Snapshot
) -> tuple[tuple[CollectionError, ...], tuple[CollectionError, ...]]:
    b_ids = {e.nodeid for e in baseline.pytest.collection_errors}
    t_ids = {e.nodeid for e in target.pytest.collection_errors}
    return (
        tuple(e for e in baseline.pytest.collection_errors if e.nodeid not in t_ids),
        tuple(e for e in target.pytest.collection_errors if e.nodeid not in b_ids),
    )


def _doubles_diff(
    baseline: Snapshot, target: Snapshot
) -> tuple[tuple[DoubleImport, ...], tuple[DoubleImport, ...]]:
    b_names = {d.names for d in baseline.imports.double_imports}
    t_names = {d.names for d in target.imports.double_imports}
    return (
        tuple(d for d in baseline.imports.double_imports if d.names not in t_names),
        tuple(d for d in target.imports.double_imports if d.names not in b_names),
    )


def _failed_imports_diff(
    baseline: Snapshot, target: Snapshot
) -> tuple[tuple[FailedImport, ...], tuple[FailedImport, ...]]:
    def only(side: Snapshot, other: Snapshot) -> tuple[FailedImport, ...]:
        theirs = {f.module for f in other.imports.failed}
        first = _by_name((f for f in side.imports.failed if f.module not in theirs), "module")
        return tuple(first.values())

    return only(baseline, target), only(target, baseline)


def _origin_changes(baseline: Snapshot, target: Snapshot) -> tuple[OriginChange, ...]:
    base = _by_name((o for o in baseline.imports.origins if not _is_own_module(o.module)), "module")
    tgt = _by_name((o for o in target.imports.origins if not _is_own_module(o.module)), "module")
    out: list[OriginChange] = []
    for name in sorted(set(base) | set(tgt)):
        b, t = base.get(name), tgt.get(name)
        if t is None:
            out.append(OriginChange(name, "missing", b, None))
        elif b is None:
            out.append(OriginChange(name, "extra", None, t))
        elif normalize_path(b.file, baseline) != normalize_path(t.file, target):
            out.append(OriginChange(name, "changed", b, t))
    return tuple(out)


def diff_snapshots(baseline: Snapshot, target: Snapshot) -> SnapshotDiff:
    """Compare two snapshots section by section."""
    same_key, environ = _env_changes(baseline, target)
    plugins, order = _plugin_changes(baseline, target)
    conf_missing, conf_extra = _one_sided_paths(
        baseline.pytest.conftests, target.pytest.conftests, baseline, target
    )
    ini_missing, ini_extra = _one_sided(baseline.pytest.unknown_ini_keys, target.pytest.unknown_ini_keys)
    err_missing, err_extra = _errors_diff(baseline, target)
    dbl_missing, dbl_extra = _doubles_diff(baseline, target)
    failed_missing, failed_extra = _failed_imports_diff(baseline, target)
    return SnapshotDiff(
        comparable_fingerprints=same_key,
        environ=environ,
        interpreter=_interpreter_changes(baseline, target),
        distributions=_dist_changes(baseline, target),
        pth_files=_pth_changes(baseline, target),
        customize=_customize_changes(baseline, target),
        sys_path=_sys_path_diff(baseline, target),
        pytest_config=_pytest_changes(baseline, target),
        plugins=plugins,
        plugin_order=order,
        conftests_missing=conf_missing,
        conftests_extra=conf_extra,
        unknown_ini_missing=ini_missing,
        unknown_ini_extra=ini_extra,
        collection_errors_missing=err_missing,
        collection_errors_extra=err_extra,
        double_imports_missing=dbl_missing,
        double_imports_extra=dbl_extra,
        origins=_origin_changes(baseline, target),
        failed_imports_missing=failed_missing,
        failed_imports_extra=failed_extra,
    )
