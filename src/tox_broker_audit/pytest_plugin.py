"""pytest front door: ``pytest --broker-audit-snapshot=FILE`` writes the snapshot of this run.

For people who run their tests from an IDE or a wrapper script: the snapshot emulates this
very invocation (same interpreter, working directory, environment and arguments), so it can
serve as the "plain pytest" baseline of ``tox --broker-audit-baseline=FILE`` or
``broker-audit diff``. The plugin does nothing unless the option is given; it imports the
rest of the package only then.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Literal

import pytest

__all__ = ["pytest_addoption", "pytest_configure"]

_OPTION = "--broker-audit-snapshot"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("broker-audit", "tox-broker-audit")
    group.addoption(
        _OPTION,
        dest="broker_audit_snapshot",
        metavar="FILE",
        default=None,
        help="write a snapshot of this pytest run to FILE (a baseline for tox --broker-audit)",
    )


def _strip_option(args: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == _OPTION:
            skip = True
            continue
        if arg.startswith(_OPTION + "="):
            continue
        out.append(arg)
    return out


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    target = config.getoption("broker_audit_snapshot", default=None)
    if not target or hasattr(config, "workerinput"):  # xdist workers: the controller writes it
        return
    from tox_broker_audit._errors import AuditError
    from tox_broker_audit.snapshot.capture import ProbeRequest, take_snapshot
    from tox_broker_audit.snapshot.io import dump_snapshot
    from tox_broker_audit.snapshot.model import Source

    params = config.invocation_params
    env: dict[str, Any] = dict(os.environ)
    if _OPTION in env.get("PYTEST_ADDOPTS", ""):
        import shlex

        env["PYTEST_ADDOPTS"] = shlex.join(_strip_option(shlex.split(env["PYTEST_ADDOPTS"])))
    main_module = sys.modules.get("__main__")
    invocation: Literal["pytest", "python-m"] = (
        "python-m" if getattr(main_module, "__package__", None) == "pytest" else "pytest"
    )
    request = ProbeRequest(
        python=sys.executable,
        cwd=Path(params.dir),
        env=env,
        invocation=invocation,
        pytest_args=tuple(_strip_option([str(a) for a in params.args])),
        source=Source(kind="pytest-run", name=None, description=f"pytest run in {params.dir}"),
        pytest_script=sys.argv[0] if invocation == "pytest" else None,
    )
    try:
        snapshot = take_snapshot(request)
        dump_snapshot(snapshot, Path(params.dir) / target)
    except AuditError as exc:
        msg = f"--broker-audit-snapshot: {exc}"
        raise pytest.UsageError(msg) from None
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"broker-audit: snapshot of this run written to {target}")
