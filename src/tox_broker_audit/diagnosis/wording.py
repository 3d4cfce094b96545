"""How a structured :class:`~.model.Fix` is said to the user of each front door.

Rules say *what* to change (``Fix("pass_env", "UNIT_TESTS")``); the front door that ran
the audit says *how*: ``tox.ini:4 [testenv]  add  pass_env = UNIT_TESTS`` for tox (and
the CLI, which compares tox envs), ``noxfile.py: set session.env["UNIT_TESTS"]`` for nox.
A wording returns the text and, where it knows one, the config line the fix goes to.
"""

from __future__ import annotations

import os
from typing import Callable, Optional

from tox_broker_audit.diagnosis.model import Fix, Location, ToxFacts

__all__ = ["Wording", "nox_wording", "tox_wording"]

#: ``(fix, tox facts or None) -> (text, location or None)``
Wording = Callable[[Fix, Optional[ToxFacts]], "tuple[str, Location | None]"]

_EDITABLE_WHY = {
    "match": "to match a local `pip install -e .`",
    "rebuild": "or rebuild: the installed copy differs from your source tree",
}


def _tox_change(fix: Fix) -> str:
    name = fix.subject
    if fix.action == "pass_env":
        return f"add  pass_env = {name}" + (f"   (or set_env = {name}={fix.value})" if fix.value else "")
    if fix.action == "set_env":
        return f"add  set_env = {name}=…   (or install/run whatever sets it locally)"
    if fix.action == "unset_env":
        return f"remove {name} from set_env (or set the same value locally)"
    if fix.action == "override_env":
        return f"set_env overrides {name}: remove it or give it the local value"
    if fix.action == "add_dep":
        return f"add {name} to deps"
    if fix.action == "pin_dep":
        return f"pin {name}=={fix.value} in deps (or upgrade locally)"
    return f"package = editable   ({_EDITABLE_WHY.get(fix.value, _EDITABLE_WHY['match'])})"


def tox_wording(fix: Fix, tox: ToxFacts | None) -> tuple[str, Location | None]:
    """``tox.ini:4 [testenv:py312]  add  pass_env = X``, located at the env's section header."""
    change = _tox_change(fix)
    if tox is None:
        return f"tox: under [testenv] {change}", None
    section = f"[{tox.ini_section}]" if tox.ini_section else "[testenv]"
    if not tox.ini_path:
        return f"{section}  {change}", None
    name = os.path.basename(tox.ini_path)
    where = f"{name}:{tox.section_line} " if tox.section_line else f"{name} "
    return f"{where}{section}  {change}", Location(tox.ini_path, tox.section_line)


def _nox_change(fix: Fix) -> str:
    env = f'session.env["{fix.subject}"]'
    if fix.action == "pass_env":
        return f"nox passes your environment: set {env} in the session (or stop removing/overriding it)"
    if fix.action == "set_env":
        return f"set {env} in the session"
    if fix.action == "unset_env":
        return f"do not set {env} in the session"
    if fix.action == "override_env":
        return f"{env} overrides it: remove it or give it the local value"
    if fix.action == "add_dep":
        return f'session.install("{fix.subject}") in the session'
    if fix.action == "pin_dep":
        return f'session.install("{fix.subject}=={fix.value}") in the session (or upgrade locally)'
    return 'session.install("-e", ".") in the session (to match a local `pip install -e .`)'


def nox_wording(fix: Fix, tox: ToxFacts | None) -> tuple[str, Location | None]:
    """The same change said the nox way, in the noxfile's session (no line is known)."""
    return f"noxfile.py: {_nox_change(fix)}", None
