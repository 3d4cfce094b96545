"""Which CI this runs in, from the environment the front door passes (a leaf: stdlib only).

One detection for everything that depends on it: the annotation format added to the output,
the checkout annotations are relative to, and "in CI with no developer env, compare with
nothing" (``snapshot/baseline.py``). A variable counts when it is set to anything but an
empty, ``0``, ``false`` or ``no`` value (GitHub sets ``GITHUB_ACTIONS=true``, Azure
``TF_BUILD=True``; ``GITHUB_ACTIONS=1`` is as much a CI as ``true``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

__all__ = ["CI_SYSTEMS", "CI_VARIABLES", "CiSystem", "ci_formats", "ci_root", "detected_ci"]


@dataclasses.dataclass(frozen=True)
class CiSystem:
    """A CI: the variable that shows it, its annotation format and its checkout variable."""

    variable: str
    format: str | None = None
    checkout: str | None = None


#: In the order they are reported; plain ``CI`` (set by most systems) last.
CI_SYSTEMS = (
    CiSystem("GITHUB_ACTIONS", "github", "GITHUB_WORKSPACE"),
    CiSystem("GITLAB_CI", "gitlab", "CI_PROJECT_DIR"),
    CiSystem("TF_BUILD", "azure", "BUILD_SOURCESDIRECTORY"),
    CiSystem("CI"),
)
CI_VARIABLES = tuple(system.variable for system in CI_SYSTEMS)
_FALSE = frozenset({"", "0", "false", "no"})


def _running(system: CiSystem, environ: Mapping[str, str]) -> bool:
    return environ.get(system.variable, "").strip().lower() not in _FALSE


def detected_ci(environ: Mapping[str, str]) -> str | None:
    """The first CI variable set to something true in ``environ``, or None."""
    return next((s.variable for s in CI_SYSTEMS if _running(s, environ)), None)


def ci_formats(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The annotation formats of the CIs ``environ`` shows."""
    return tuple(s.format for s in CI_SYSTEMS if s.format and _running(s, environ))


def ci_root(environ: Mapping[str, str], default: str) -> str:
    """The CI checkout (``GITHUB_WORKSPACE``, ``CI_PROJECT_DIR``, …) from ``environ``, else ``default``."""
    for system in CI_SYSTEMS:
        if system.checkout and environ.get(system.checkout):
            return environ[system.checkout]
    return default
