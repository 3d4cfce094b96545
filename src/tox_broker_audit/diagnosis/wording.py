"""How a structured :class:`~.model.Fix` is said to the user of each front door.

Rules say *what* to change (``Fix("pass_env", "UNIT_TESTS")``); the front door that ran
the audit says *how*: ``tox.ini:4 [testenv]  add  pass_env = UNIT_TESTS`` for tox (and
the CLI, which compares tox envs), ``noxfile.py: set session.env["UNIT_TESTS"]`` for nox.
A wording returns the text and, where it knows one, the config line the fix goes to.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Optional

from tox_broker_audit.diagnosis.model import DiagnosisContext, Fix, Location, ToxFacts
from tox_broker_audit.probe._tba_redact import is_secret_name, redact_text

__all__ = ["Wording", "is_nox", "nox_wording", "side_label", "tox_wording"]

#: ``(fix, tox facts or None) -> (text, location or None)``
Wording = Callable[[Fix, Optional[ToxFacts]], "tuple[str, Location | None]"]

_EDITABLE_WHY = {
    "match": "to match a local `pip install -e .`",
    "rebuild": "or rebuild: the installed copy differs from your source tree",
}

#: Each action in tox's words and in nox's: ``{subject}``, ``{value}`` and ``{why}`` are filled in.
_TOX_WORDS = {
    "pass_env": "add  pass_env = {subject}",
    "set_env": "add  set_env = {subject}=…   (or install/run whatever sets it locally)",
    "unset_env": "remove {subject} from set_env (or set the same value locally)",
    "override_env": "set_env overrides {subject}: remove it or give it the local value",
    "add_dep": "add {subject} to deps",
    "pin_dep": "pin {subject}=={value} in deps (or upgrade locally)",
    "editable": "package = editable   ({why})",
    "python_path": "add  set_env = PYTHONPATH={{toxinidir}}/{value}   "
    "(or `pythonpath = {value}` in the pytest config)",
}
_NOX_WORDS = {
    "pass_env": 'nox passes your environment: set session.env["{subject}"] in the session '
    "(or stop removing/overriding it)",
    "set_env": 'set session.env["{subject}"] in the session',
    "unset_env": 'do not set session.env["{subject}"] in the session',
    "override_env": 'session.env["{subject}"] overrides it: remove it or give it the local value',
    "add_dep": 'session.install("{subject}") in the session',
    "pin_dep": 'session.install("{subject}=={value}") in the session (or upgrade locally)',
    "editable": 'session.install("-e", ".") in the session (to match a local `pip install -e .`)',
    "python_path": 'set session.env["PYTHONPATH"] = "{value}" in the session '
    "(or `pythonpath = {value}` in the pytest config)",
}


def _say(words: dict[str, str], fix: Fix) -> str:
    why = _EDITABLE_WHY.get(fix.value, _EDITABLE_WHY["match"])
    return words[fix.action].format(subject=fix.subject, value=fix.value, why=why)


def _never_a_secret(fix: Fix) -> Fix:
    """A fix text never carries a secret: a secret variable is passed in (``pass_env = X``),
    never written into the config (``set_env = X=<value>``), and a value that redaction
    would change is left out."""
    if fix.action in ("pass_env", "set_env") and is_secret_name(fix.subject):
        return Fix("pass_env", fix.subject)
    if fix.value and redact_text(fix.value) != fix.value:
        return dataclasses.replace(fix, value="")
    return fix


def tox_wording(fix: Fix, tox: ToxFacts | None) -> tuple[str, Location | None]:
    """``tox.ini:4 [testenv:py312]  add  pass_env = X``, located at the env's section header."""
    fix = _never_a_secret(fix)
    change = _say(_TOX_WORDS, fix)
    if fix.action == "pass_env" and fix.value:
        change += f"   (or set_env = {fix.subject}={fix.value})"
    if tox is None:
        return f"tox: under [testenv] {change}", None
    section = f"[{tox.ini_section}]" if tox.ini_section else "[testenv]"
    if not tox.ini_path:
        return f"{section}  {change}", None
    name = os.path.basename(tox.ini_path)
    where = f"{name}:{tox.section_line} " if tox.section_line else f"{name} "
    return f"{where}{section}  {change}", Location(tox.ini_path, tox.section_line)


def nox_wording(fix: Fix, _tox: ToxFacts | None) -> tuple[str, Location | None]:
    """The same change said the nox way, in the noxfile's session (no line is known)."""
    return f"noxfile.py: {_say(_NOX_WORDS, _never_a_secret(fix))}", None


def is_nox(ctx: DiagnosisContext) -> bool:
    """The target is a nox session (``tox_broker_audit.nox.audit``): say nox, not tox."""
    return ctx.target.meta.source.kind == "nox-session"


def side_label(ctx: DiagnosisContext, side: str) -> str:
    """How the report names a side: "locally" / "in the reference" / "under tox (py312)", or
    baseline/target; "in both runs" for the target when the diagnosis re-words a fact both
    runs show (``ctx.in_both_runs``)."""
    if side == "target" and ctx.in_both_runs:
        return "in both runs"
    if is_nox(ctx):
        name = ctx.target.meta.source.name
        return "locally" if side == "baseline" else (f"in nox session {name}" if name else "under nox")
    tox_like = ctx.tox is not None or ctx.env_name is not None
    if side == "baseline" and ctx.baseline is not None and ctx.baseline.meta.source.kind == "reference":
        return "in the reference"  # a committed file is nobody's "locally" (docs/ci.md)
    if side == "baseline":
        return "locally" if tox_like else "in the baseline"
    if tox_like:
        return f"under tox ({ctx.env_name})" if ctx.env_name else "under tox"
    return "in the target"
