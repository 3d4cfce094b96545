"""The ``broker-audit`` command line (docs/architecture.md, Contracts).

Thin: each sub-command lives in its own module.

Exit codes: 0 no finding at/above ``--fail-on``, 1 findings, 2 usage or input error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tox_broker_audit._errors import AuditError
from tox_broker_audit._sanitize import clean
from tox_broker_audit._version import __version__

__all__ = ["main"]

#: Modules that each add sub-commands through ``register(subparsers)``.
_COMMAND_MODULES = (".snapshot", ".report", ".fix", ".demo")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"broker-audit: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="broker-audit",
        description="Explain why tests pass with plain pytest locally but fail under tox.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in _COMMAND_MODULES:
        importlib.import_module(name, __package__).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in args_list:  # everything after ``--`` goes to pytest untouched
        cut = args_list.index("--")
        args_list, extra = args_list[:cut], args_list[cut + 1 :]
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    args.pytest_args = extra
    try:
        code: int = args.run(args)
    except AuditError as exc:
        print(clean(f"broker-audit: error: {exc}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("broker-audit: interrupted", file=sys.stderr)
        return 2
    return code
