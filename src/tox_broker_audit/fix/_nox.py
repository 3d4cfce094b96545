"""The nox session's version of a confirmed fix: lines added to the session function, as a diff.

A noxfile is code, so it is never written: ``audit(session, fix="diff")`` prints what to add.
The lines go at the top of the session's body (after its docstring), indented as that body is:
``session.env["UNIT_TESTS"] = "1"`` for a variable whose local value is not secret, and
``session.install("redis")`` for a missing distribution. A secret's value is never written
(the line says to pass it from the environment nox runs in, which nox passes by default).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence

from tox_broker_audit.probe._tba_redact import is_secret_name, redact_text

__all__ = ["session_line", "with_lines"]


def session_line(action: str, subject: str, value: str) -> str | None:
    """The statement that makes the session do what the experiment did; None: not code of the
    session's (or a value that must not be written)."""
    if action in ("pass_env", "set_env"):
        if not value or is_secret_name(subject) or redact_text(value) != value:
            return None
        return f"session.env[{json.dumps(subject)}] = {json.dumps(value)}"
    if action == "add_dep" and subject:
        return f"session.install({json.dumps(subject)})"
    return None


def with_lines(text: str, first_line: int, lines: Sequence[str]) -> str | None:
    """``text`` (a noxfile) with ``lines`` at the top of the function that starts at
    ``first_line`` (its ``def`` or first decorator); None when it cannot be found."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    function = next(
        (
            node
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and first_line in (node.lineno, *(d.lineno for d in node.decorator_list))
        ),
        None,
    )
    if function is None or not function.body:
        return None
    body = function.body
    docstring = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant)
    anchor = body[1] if docstring and len(body) > 1 else body[0]
    source = text.splitlines(keepends=True)
    indent = " " * anchor.col_offset
    ending = "\r\n" if source and source[0].endswith("\r\n") else "\n"
    new = [f"{indent}{line}{ending}" for line in lines if f"{indent}{line}" not in map(str.rstrip, source)]
    if not new:
        return None
    at = (anchor.end_lineno or anchor.lineno) if anchor is body[0] and docstring else anchor.lineno - 1
    return "".join([*source[:at], *new, *source[at:]])
