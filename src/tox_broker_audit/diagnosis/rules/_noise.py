"""Harmless start-up and packaging differences, recognised as classes (issue 20).

* :func:`namespace_only` — a ``.pth`` whose executable lines only declare namespace packages
  (setuptools' ``*-nspkg.pth``, ``pkgutil``/``pkg_resources`` boilerplate), recognised by what
  the lines do, whatever the file is called, and only while everything it imported holds no code.
* :func:`own_editable` — a ``.pth`` (path line or finder) that is the project's own editable
  install — setuptools, flit, hatch, pdm, uv — while the same distribution is installed on the
  other side (a wheel under tox): the modules it provides are no cause, any other module found
  only through it still is.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from packaging.utils import canonicalize_name

from tox_broker_audit.snapshot.anchors import is_under
from tox_broker_audit.snapshot.model import Distribution, PthFile, Snapshot

from ._common import Facts

__all__ = ["namespace_modules", "namespace_only", "own_editable", "provided_tops"]

#: What namespace-package boilerplate does: make a module object and give it a ``__path__``.
_NAMESPACE_MARKERS = (
    "types.ModuleType(",
    "sys.modules.setdefault(",
    "__path__",
    "PathFinder.find_spec(",
    "_NamespacePath",
    "extend_path(",
    "declare_namespace(",
)
#: Code a namespace line may not contain besides its boilerplate: a call of anything else.
_FOREIGN_IMPORT = re.compile(
    r"__import__\(\s*['\"](?!importlib\b|types\b|sys\b|os\b|pkgutil\b|pkg_resources\b)"
)


#: What the boilerplate's leading ``import`` statement may name.
_BOILERPLATE_IMPORTS = frozenset(
    {
        "sys",
        "types",
        "os",
        "new",
        "importlib",
        "importlib.util",
        "importlib.machinery",
        "pkgutil",
        "pkg_resources",
    }
)


def namespace_modules(snapshot: Snapshot) -> frozenset[str]:
    """Modules that are namespace packages on this side: recorded, but without a file."""
    return frozenset(o.module for o in snapshot.imports.origins if o.file is None)


def _code_modules(snapshot: Snapshot, names: Iterable[str]) -> list[str]:
    """Of ``names``, the modules that hold code (anything not known to be a namespace)."""
    spaces = namespace_modules(snapshot)
    return [n for n in names if n not in spaces]


def namespace_only(pth: PthFile, snapshot: Snapshot, app_tops: frozenset[str]) -> bool:
    """``pth``'s executable lines only declare namespace packages and imported no code of the app.

    Every line must carry the boilerplate's marks and import nothing but the stdlib modules the
    boilerplate uses; what the file imported at start-up must be namespaces or non-app modules.
    """
    if not pth.exec_lines:
        return False
    for line in pth.exec_lines:
        if not any(mark in line for mark in _NAMESPACE_MARKERS) or _FOREIGN_IMPORT.search(line):
            return False
        statement = line.split(";", 1)[0].strip()
        names = {n.strip().split(" as ")[0] for n in statement[len("import") :].split(",")}
        if not names <= _BOILERPLATE_IMPORTS:
            return False
    return not any(m.partition(".")[0] in app_tops for m in _code_modules(snapshot, pth.imported))


def _norm(name: str) -> str:
    return str(canonicalize_name(name))


#: How editable back-ends name their file: ``__editable__.app-1.0.pth`` (setuptools),
#: ``_editable_impl_app.pth`` (hatch's finder), ``_app.pth`` (hatch, pdm), ``app.pth`` (flit, uv).
_EDITABLE_PREFIXES = ("-editable-", "-editable-impl-", "-")  # as _norm() writes them
_VERSION_SUFFIX = re.compile(r"-\d[\w-]*$")


def _names_dist(pth: PthFile, dist: Distribution) -> bool:
    """The file's name is the distribution's, as an editable back-end writes it."""
    stem = _norm(pth.name[:-4] if pth.name.endswith(".pth") else pth.name)
    stem = _VERSION_SUFFIX.sub("", stem)
    candidates = {stem} | {stem[len(p) :] for p in _EDITABLE_PREFIXES if stem.startswith(p)}
    return _norm(dist.name) in candidates


def _points_into(pth: PthFile, roots: Iterable[str]) -> bool:
    paths = [os.path.normpath(p) for p in (*pth.path_lines, *pth.added_paths) if os.path.isabs(p)]
    return bool(paths) and all(any(is_under(p, r) for r in roots) for p in paths)


def own_editable(f: Facts, side: str, pth: PthFile) -> Distribution | None:
    """The project distribution ``pth`` installs editable on ``side``, if the other side has it too.

    The distribution is editable from a source tree inside (or around) the project root, the
    file names it or points into that tree (a finder file points nowhere: its name counts), and
    a distribution of the same name is installed, in whatever way, on the other side.
    """
    mine = f.baseline if side == "baseline" else f.target
    other = f.target if side == "baseline" else f.baseline
    if mine is None or other is None:
        return None
    installed = {d.name for d in other.snapshot.distributions if not d.shadowed}
    roots = f.project_roots
    for dist in mine.snapshot.distributions:
        src = os.path.normpath(dist.source_path) if dist.source_path else None
        if not dist.editable or src is None or dist.name not in installed:
            continue
        if not any(is_under(src, r) or is_under(r, src) for r in roots):
            continue
        tree = [src, *roots]
        if _names_dist(pth, dist) and (not pth.path_lines or _points_into(pth, tree)):
            return dist
        if pth.path_lines and not pth.exec_lines and _points_into(pth, [src]):
            return dist
    return None


def provided_tops(f: Facts, name: str) -> frozenset[str]:
    """Top-level modules distribution ``name`` provides on either side (an editable install's
    RECORD may list none: its wheel under tox does)."""
    out: set[str] = set()
    for side in f.sides():
        for dist in side.snapshot.distributions:
            if dist.name == name:
                out.update(t for t in dist.top_level if not t.startswith("__editable__"))
    return frozenset(out)
