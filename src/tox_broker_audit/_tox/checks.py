"""Checks of the ``broker_audit_*`` env keys when tox loads an env's configuration (docs/tox.md).

A bad value is a tox error before the env runs, in one line, and only when auditing: without
``--broker-audit`` the keys are not ours to judge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tox_broker_audit._options import FIX_MODES, ORACLES, VERIFY_MODES

if TYPE_CHECKING:
    from tox.config.sets import EnvConfigSet
    from tox.session.state import State

__all__ = ["check_env_keys"]


def check_env_keys(env_conf: EnvConfigSet, state: State) -> None:
    """``tox_add_env_config``: a bad ``broker_audit_verify``/``_oracle``/``_fix`` or a
    ``broker_audit_ignore`` entry naming no built-in code (``BA10`` for ``BA101``: a typo that
    silences nothing) is a tox error when the env's configuration is loaded, before it runs
    (only when auditing). Codes of other prefixes belong to extensions and are not known until
    their rules run."""
    if not getattr(state.conf.options, "broker_audit", False):
        return
    from tox.report import HandledError

    where = f"in env {env_conf.name}"
    for key, choices in (
        ("broker_audit_verify", VERIFY_MODES),
        ("broker_audit_oracle", ORACLES),
        ("broker_audit_fix", FIX_MODES),
    ):
        value = str(env_conf[key] or "")
        if value and value not in choices:
            message = f"--broker-audit: {key} = {value} {where} is not one of {', '.join(choices)}"
            raise HandledError(message)
    unknown = _unknown_codes(env_conf["broker_audit_ignore"])
    if unknown:
        message = (
            f"--broker-audit: broker_audit_ignore {where} names no finding code: {', '.join(unknown)} "
            "(docs/findings.md lists them; CODE or CODE:subject-glob)"
        )
        raise HandledError(message)


def _unknown_codes(entries: Sequence[str]) -> list[str]:
    """The ``BA…`` codes of ``entries`` (``CODE`` or ``CODE:glob``, also comma separated) that
    the code table does not have."""
    import re

    from tox_broker_audit.diagnosis.codes import CODES

    codes = [part.strip().partition(":")[0].upper() for entry in entries for part in str(entry).split(",")]
    return [code for code in codes if re.fullmatch(r"BA\w*", code) and code not in CODES]
