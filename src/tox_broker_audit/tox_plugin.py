"""tox 4 front door: ``tox --broker-audit`` (entry point group ``tox``).

tox loads this module on every run, audited or not, so it stays cheap: thin hooks that
forward to :mod:`tox_broker_audit._tox`, which does the work only when ``--broker-audit``
is given. See ``docs/tox.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tox.plugin import impl

from tox_broker_audit._tox import checks, options, run

if TYPE_CHECKING:
    from tox.config.cli.parser import ToxParser
    from tox.config.sets import ConfigSet, EnvConfigSet
    from tox.session.state import State
    from tox.tox_env.api import ToxEnv

__all__ = [
    "tox_add_core_config",
    "tox_add_env_config",
    "tox_add_option",
    "tox_after_run_commands",
    "tox_before_run_commands",
    "tox_on_install",
]


@impl
def tox_add_option(parser: ToxParser) -> None:
    options.add_options(parser)


@impl
def tox_add_core_config(core_conf: ConfigSet, state: State) -> None:
    options.add_core_keys(core_conf)
    # The options are parsed by now: validate them and start the baseline in the background.
    run.start(core_conf, state)


@impl
def tox_add_env_config(env_conf: EnvConfigSet, state: State) -> None:
    options.add_env_keys(env_conf)
    checks.check_env_keys(env_conf, state)


@impl
def tox_on_install(tox_env: ToxEnv, arguments: Any) -> None:  # pluggy passes only what is named
    run.on_install(tox_env, arguments)


@impl
def tox_before_run_commands(tox_env: ToxEnv) -> None:
    run.before_commands(tox_env)


@impl
def tox_after_run_commands(tox_env: ToxEnv, exit_code: int) -> None:
    run.after_commands(tox_env, exit_code)
