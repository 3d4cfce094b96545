"""Does the baseline reproduce "passes locally"? If not, find the local run that does.

A live baseline emulates plain ``pytest`` in the developer's venv with the env's selection. When
that run cannot collect — pytest stops before collecting, or it has collection errors the env
does not have — it is not the run the developer sees pass, and comparing with it invents
causes or verifies nothing (a project whose developers run ``python -m pytest``: the ``pytest``
script cannot import ``tests``). So the pipeline tries what a developer plausibly runs instead,
in this order: ``python -m pytest`` with the same selection, then plain ``pytest`` and
``python -m pytest`` over the whole suite, all from the project root with the baseline's own
environment. The first that collects cleanly is the baseline, and one line says so. When none
does, the original stays (its crash is a blind spot the diagnosis already reports).

Only a live baseline can be re-run; a snapshot file or a reference is what it is.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tox_broker_audit._errors import AuditError
from tox_broker_audit._sanitize import clean

if TYPE_CHECKING:
    from tox_broker_audit.snapshot.baseline import BaselinePlan, LiveBaseline
    from tox_broker_audit.snapshot.capture import Invocation
    from tox_broker_audit.snapshot.model import Snapshot

__all__ = ["baseline_selection", "candidates", "reproduce_local", "shown", "why_not_local"]


def why_not_local(baseline: Snapshot, target: Snapshot) -> str | None:
    """Why ``baseline`` is not a run that passes locally (None: it collected cleanly, or its
    collection errors are the env's too)."""
    config = baseline.pytest
    if config.not_collected is not None:
        return None
    if config.crash:
        return f"stops before collecting ({_short(config.crash)})"
    theirs = {error.nodeid for error in target.pytest.collection_errors}
    mine = [error for error in config.collection_errors if error.nodeid not in theirs]
    if mine:
        n = len(mine)
        return f"cannot collect {n} test module{'s' if n != 1 else ''} ({_short(mine[0].message)})"
    return None


def _short(text: str, limit: int = 100) -> str:
    line = next((part.strip() for part in reversed(text.splitlines()) if part.strip()), text.strip())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def candidates(selection: tuple[str, ...]) -> list[tuple[Invocation, tuple[str, ...]]]:
    """What a developer plausibly runs, most like the env's command first (no duplicates)."""
    tried: list[tuple[Invocation, tuple[str, ...]]] = []
    for option in (("python-m", selection), ("pytest", ()), ("python-m", ())):
        if option not in tried and option != ("pytest", selection):
            tried.append(option)
    return tried


def shown(invocation: str, args: Sequence[str]) -> str:
    return " ".join(("python -m pytest" if invocation == "python-m" else "pytest", *args))


def reproduce_local(
    name: str,
    plan: BaselinePlan,
    sides: tuple[Snapshot | None, Snapshot | None],
    root: Path,
    key: bytes | None,
) -> tuple[Snapshot | None, str | None]:
    """The baseline to compare with and, when it is not the emulated one, the line saying so."""
    from tox_broker_audit.snapshot.baseline import LiveBaseline

    baseline, target = sides
    if not isinstance(plan, LiveBaseline) or baseline is None or target is None:
        return baseline, None
    why = why_not_local(baseline, target)
    if why is None:
        return baseline, None
    selection = baseline_selection(baseline, str(root))
    for invocation, args in candidates(selection):
        try:
            other = _take(plan, root, key, invocation, args)
        except AuditError:
            continue
        if why_not_local(other, target) is None:
            said = (
                f"broker-audit: {name}: compared with your local `{shown(invocation, args)}`: "
                f"`{shown('pytest', selection)}` in your venv {why}"
            )
            return other, clean(said)
    return baseline, None


def baseline_selection(snapshot: Snapshot, root: str) -> tuple[str, ...]:
    """What ``snapshot``'s run selected (test paths, ``-k``, ``-m``), relative to ``root``."""
    from tox_broker_audit._command import selection_args

    return tuple(
        os.path.relpath(arg, root) if os.path.isabs(arg) and arg.startswith(root) else arg
        for arg in selection_args(snapshot.pytest.args, snapshot.meta.cwd)
    )


def _take(
    plan: LiveBaseline, root: Path, key: bytes | None, invocation: Invocation, args: tuple[str, ...]
) -> Snapshot:
    from tox_broker_audit.snapshot.capture import ProbeRequest, take_snapshot
    from tox_broker_audit.snapshot.model import Source

    description = f"your local `{shown(invocation, args)}` in {root} with {plan.found_by}"
    return take_snapshot(
        ProbeRequest(
            python=plan.python,
            cwd=root,
            env=dict(plan.environ),
            invocation=invocation,
            pytest_args=args,
            source=Source(kind="plain-pytest", name="baseline", description=description),
            project_root=root,
            key=key,
        )
    )
