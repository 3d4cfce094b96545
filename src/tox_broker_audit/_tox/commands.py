"""What a tox env runs, as the audit needs it: its commands, its pytest command and the
arguments the probe collects with (``broker_audit_pytest_args`` first), the environment tox
gives a command, and the probe request for the env (docs/tox.md)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tox_broker_audit._errors import AuditError

if TYPE_CHECKING:
    from tox.tox_env.api import ToxEnv

    from tox_broker_audit._command import PytestCommand
    from tox_broker_audit.snapshot.capture import ProbeRequest

__all__ = ["collection", "command_environment", "not_emulated_line", "target_request"]


def collection(tox_env: ToxEnv) -> _Collection:
    """The env's commands, its pytest command, ``broker_audit_pytest_args``, what it selects,
    the arguments the probe collects with and the line about bad explicit arguments."""
    from tox_broker_audit._command import collection_args, find_pytest_command, selection_args

    commands = [list(cmd.args) for cmd in tox_env.conf["commands"]]
    found = find_pytest_command(commands)
    explicit, bad_args = _explicit_args(tox_env)
    args = explicit or collection_args(found.args if found else ())
    selection = selection_args(args, str(tox_env.conf["change_dir"]))
    return commands, found, explicit, selection, args, bad_args


#: What :func:`_collection` returns.
_Collection = tuple[
    list[list[str]], "PytestCommand | None", tuple[str, ...], tuple[str, ...], tuple[str, ...], "str | None"
]


def _explicit_args(tox_env: ToxEnv) -> tuple[tuple[str, ...], str | None]:
    """``broker_audit_pytest_args``, split like a shell would; unbalanced quotes are one line."""
    from tox_broker_audit._command import split_args

    try:
        return split_args(tox_env.conf["broker_audit_pytest_args"]), None
    except ValueError as exc:
        return (), f"broker_audit_pytest_args ignored ({exc}); collecting with the command's arguments"


def target_request(
    tox_env: ToxEnv,
    found: PytestCommand | None,
    args: tuple[str, ...],
    *,
    project_root: Path,
    key: bytes,
    collect: bool = True,
) -> ProbeRequest:
    from tox_broker_audit._command import xdist_workers
    from tox_broker_audit.snapshot.capture import ProbeRequest
    from tox_broker_audit.snapshot.model import Source

    env_python = getattr(tox_env, "env_python", None)
    if env_python is None:
        msg = f"{type(tox_env).__name__} envs are not Python environments; nothing to probe"
        raise AuditError(msg)
    python = str(env_python())
    env = command_environment(tox_env)
    cwd = Path(tox_env.conf["change_dir"])
    invocation = found.invocation if found else "pytest"
    script = None
    if found is not None and found.script is not None:
        # tox looks the command up on the env's PATH, as a shell would.
        script = shutil.which(found.script, path=env.get("PATH")) or found.script
    shown = " ".join(found.command) if found else f"pytest {' '.join(args)}".strip() + " (not in commands)"
    return ProbeRequest(
        python=python,
        cwd=cwd,
        env=env,
        invocation=invocation,
        pytest_args=args,
        source=Source(
            kind="tox-env", name=tox_env.conf.name, description=f"tox env {tox_env.conf.name}: {shown}"
        ),
        project_root=project_root,
        pytest_script=script,
        key=key,
        python_flags=found.python_flags if found else (),
        xdist_workers=xdist_workers(found.args) if found else 0,
        no_collection=None if collect else "the env's commands run no pytest the audit can emulate",
    )


def not_emulated_line(env_name: str, command: Sequence[str]) -> str:
    """One line when the env's commands run pytest in a way the audit cannot see into (a
    wrapper script, ``make test``): it does not invent a collection (only the variables,
    packages and start-up are compared), and says how to give it the real arguments."""
    from tox_broker_audit._sanitize import clean

    shown = clean(" ".join(command))
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return (
        f"broker-audit: {env_name}: `{shown}` is not a pytest command the audit can emulate, so it "
        f"did not collect: only variables, packages and start-up files are compared; to audit what "
        f"your run collects, set broker_audit_pytest_args = <your pytest arguments> in the env's section"
    )


def command_environment(tox_env: ToxEnv) -> dict[str, str]:
    """The environment tox gives a command: pass_env + set_env + PATH, then what its executor adds."""
    env = dict(tox_env.environment_variables)
    columns, lines = shutil.get_terminal_size(fallback=(-1, -1))
    if columns != -1:
        env.setdefault("COLUMNS", str(columns))
    if lines != -1:
        env.setdefault("LINES", str(lines))
    return env
