"""``tox --broker-audit*`` options and the ``broker_audit_*`` env keys (docs/tox.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tox_broker_audit._options import (
    DEFAULT_BUDGET,
    DEFAULT_ORACLE_TESTS,
    FAIL_ON,
    FIX_MODES,
    ORACLES,
    VERIFY_MODES,
)

if TYPE_CHECKING:
    from tox.config.cli.parser import ToxParser
    from tox.config.sets import ConfigSet, EnvConfigSet

__all__ = ["add_core_keys", "add_env_keys", "add_options", "add_verify_options"]


def add_options(parser: ToxParser) -> None:
    """The command-line options (docs/tox.md). No default is ``None``: tox 4 cannot infer a type
    from it and fails at start-up (every tox run, audited or not)."""
    parser.add_argument(
        "--broker-audit",
        action="store_true",
        default=False,
        dest="broker_audit",
        help="explain differences between a plain local pytest run and each tox env (tox-broker-audit)",
    )
    parser.add_argument(
        "--broker-audit-baseline",
        default="auto",
        dest="broker_audit_baseline",
        metavar="auto|PYTHON|VENV_DIR|SNAPSHOT.json|REFERENCE_DIR",
        help="what the envs are compared with; auto: $VIRTUAL_ENV, then .venv/venv in the project, "
        "then python3 on PATH (never a tox env; in CI nothing: set a reference); REFERENCE_DIR: each "
        "env with REFERENCE_DIR/<env>.json (default: broker_audit_baseline in [tox], else auto)",
    )
    parser.add_argument(
        "--broker-audit-format",
        action="append",
        default=[],
        dest="broker_audit_format",
        metavar="FORMAT",
        help="output format (repeatable, or comma separated): terminal, json, markdown, github, gitlab, "
        "sarif, azure; default terminal, and in CI the matching annotation format is added",
    )
    # No ``choices``: tox turns a value from TOX_BROKER_AUDIT_FAIL_ON or the user config that
    # is not a choice into the default (the gate silently off); ``_tox.run.start`` checks it.
    parser.add_argument(
        "--broker-audit-fail-on",
        default="never",
        dest="broker_audit_fail_on",
        metavar="|".join(FAIL_ON),
        help="make an env fail when it has findings of this severity or worse (default never: "
        "the audit does not change tox's result)",
    )
    parser.add_argument(
        "--broker-audit-save",
        default="",
        dest="broker_audit_save",
        metavar="DIR",
        help="write each env's snapshot as DIR/<env>.json: the reference a CI drift check compares "
        "with (--broker-audit-baseline=DIR or broker_audit_baseline = DIR in [tox]; docs/ci.md)",
    )
    parser.add_argument(
        "--broker-audit-save-baseline",
        default="",
        dest="broker_audit_save_baseline",
        metavar="PATH",
        help="also write the baseline snapshot to PATH (e.g. to commit it for CI drift checks)",
    )
    add_verify_options(parser)


def add_verify_options(parser: ToxParser) -> None:
    """``--broker-audit-verify`` and its budget (docs/tox.md); ``TOX_BROKER_AUDIT_VERIFY`` too."""
    # No ``choices`` (as for --broker-audit-fail-on): tox would turn a bad TOX_BROKER_AUDIT_VERIFY
    # into the default with a warning per look-up; ``_tox.run.start`` checks it in one line.
    parser.add_argument(
        "--broker-audit-verify",
        default="auto",
        metavar="|".join(VERIFY_MODES),
        dest="broker_audit_verify",
        help="re-run the env's collection with each top cause undone to confirm it (auto: when the env "
        "failed and the two runs differ in brokers or errors; always; off)",
    )
    parser.add_argument(
        "--broker-audit-oracle",
        default="auto",
        metavar="|".join(ORACLES),
        dest="broker_audit_oracle",
        help="what confirms a cause: the env's failing tests passing with the difference undone (tests; "
        "auto: when they can run), or the collection looking like the local one (collection: for suites "
        "whose tests must not run twice)",
    )
    parser.add_argument(
        "--broker-audit-oracle-tests",
        default=DEFAULT_ORACLE_TESTS,
        type=int,
        dest="broker_audit_oracle_tests",
        metavar="N",
        help=f"re-run at most N of the env's failing tests (default {DEFAULT_ORACLE_TESTS})",
    )
    parser.add_argument(
        "--broker-audit-fix",
        default="off",
        metavar="|".join(FIX_MODES),
        dest="broker_audit_fix",
        help="for causes the failing tests confirmed whose fix is a change of the tox config: print it "
        "as a diff (diff, also .tox/<env>/broker-audit/fix.diff), or write it and re-run the env's "
        "commands, putting the file back if they still fail (apply); default off",
    )
    parser.add_argument(
        "--broker-audit-verify-budget",
        default=DEFAULT_BUDGET,
        dest="broker_audit_verify_budget",
        metavar="RUNS[/SECONDS]",
        help=f"at most RUNS re-probes and about SECONDS per env for the verification "
        f"(default {DEFAULT_BUDGET})",
    )


def add_env_keys(env_conf: EnvConfigSet) -> None:
    """The ``[testenv]`` keys; they also work in ``pyproject.toml`` and ``tox.toml``."""
    env_conf.add_config(
        keys=["broker_audit_ignore"],
        of_type=list[str],
        default=[],
        desc="tox-broker-audit: finding codes or CODE:subject-glob to silence",
    )
    env_conf.add_config(
        keys=["broker_audit_pytest_args"],
        of_type=list[str],
        default=[],
        desc="tox-broker-audit: pytest arguments for the collection run when commands do not show them",
    )
    env_conf.add_config(
        keys=["broker_audit_verify"],
        of_type=str,
        default="",
        desc="tox-broker-audit: auto, off or always for this env (default: --broker-audit-verify)",
    )
    env_conf.add_config(
        keys=["broker_audit_fix"],
        of_type=str,
        default="",
        desc="tox-broker-audit: off, diff or apply for this env (default: --broker-audit-fix)",
    )
    env_conf.add_config(
        keys=["broker_audit_oracle"],
        of_type=str,
        default="",
        desc="tox-broker-audit: auto, tests or collection for this env (default: --broker-audit-oracle)",
    )


def add_core_keys(core_conf: ConfigSet) -> None:
    """The core keys (``[tox]``, ``[tool.tox]``, ``tox.toml``): what CI compares with, no flag."""
    core_conf.add_config(
        keys=["broker_audit_baseline"],
        of_type=str,
        default="",
        desc="tox-broker-audit: what the envs are compared with when --broker-audit-baseline is not "
        "given (a reference directory such as ci/broker-audit, relative to the tox root)",
    )
