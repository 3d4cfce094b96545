"""Re-probes: the target's own probe request, changed by one intervention, run in parallel.

Same interpreter, cwd, command and environment as the target's snapshot (the request the
front door built), plus the intervention: the child's environment, cwd, invocation and
pytest arguments are changed here; the rest goes to the probe as the request's
``experiment`` (``probe/_tba_experiment.py``). A baseline package or plugin put first on
``sys.path`` is linked into a temporary directory (pure Python only: a compiled module
belongs to the baseline's interpreter). A re-probe that fails gives ``None``.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tox_broker_audit._errors import AuditError
from tox_broker_audit.snapshot.capture import ProbeRequest, take_snapshot
from tox_broker_audit.snapshot.model import Snapshot
from tox_broker_audit.verify.interventions import Intervention
from tox_broker_audit.verify.search import Result, Runner
from tox_broker_audit.verify.symptom import Symptom, symptom_of

__all__ = ["make_runner", "pure_python", "request_for"]

_COMPILED = (".so", ".pyd", ".dll", ".dylib")


def pure_python(path: str) -> bool:
    """A module file or package directory holding no compiled extension."""
    if os.path.isfile(path):
        return path.endswith(".py")
    if not os.path.isdir(path):
        return False
    return all(not any(name.endswith(_COMPILED) for name in files) for _, _, files in os.walk(path))


def request_for(request: ProbeRequest, intervention: Intervention, overlay_dir: str | None) -> ProbeRequest:
    """``request`` with ``intervention`` applied (``overlay_dir``: where its overlay is linked)."""
    env = dict(os.environ if request.env is None else request.env)
    for name in intervention.env_unset:
        env.pop(name, None)
    env.update(dict(intervention.env_set))
    prepend = (*((overlay_dir,) if overlay_dir else ()), *intervention.path_prepend)
    experiment: dict[str, object] = {
        "skip_pth": list(intervention.skip_pth),
        "run_files": list(intervention.run_files),
        "path_prepend": list(prepend),
    }
    if intervention.skip_customize:
        experiment["skip_customize"] = list(intervention.skip_customize)
    if intervention.xdist_controller:
        experiment["xdist_view"] = "controller"
    if intervention.hide:
        experiment["hide"] = list(intervention.hide)
    args = request.pytest_args
    if intervention.selection is not None:
        from tox_broker_audit._command import without_selection

        args = (*without_selection(args, str(request.cwd)), *intervention.selection)
    invocation = intervention.invocation or request.invocation
    return dataclasses.replace(
        request,
        env=env,
        cwd=Path(intervention.cwd) if intervention.cwd else request.cwd,
        invocation=invocation if invocation in ("pytest", "python-m") else request.invocation,  # type: ignore[arg-type]
        pytest_script=request.pytest_script if invocation == request.invocation else None,
        pytest_args=(*intervention.args, *args),
        experiment=experiment,
    )


def _link_overlay(paths: Sequence[str], extra: Sequence[str], into: str) -> None:
    for path in paths:
        if not pure_python(path):
            msg = f"{path} is not pure Python"
            raise AuditError(msg)
        _link(path, into)
    for path in extra:
        for candidate in (path, path + ".py"):
            if pure_python(candidate):
                _link(candidate, into)


def _link(path: str, into: str) -> None:
    link = os.path.join(into, os.path.basename(path.rstrip(os.sep)))
    if not os.path.lexists(link):
        os.symlink(path, link)


Symptoms = Callable[[Snapshot, str], Symptom]


def _one(request: ProbeRequest, intervention: Intervention, root: str, symptom: Symptoms) -> Result:
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="tba-verify-") as overlay:
            _link_overlay(intervention.overlay, intervention.overlay_extra, overlay)
            snapshot = take_snapshot(
                request_for(request, intervention, overlay if intervention.overlay else None)
            )
    except (AuditError, OSError):
        return None, round(time.monotonic() - started, 2)
    return symptom(snapshot, root), round(time.monotonic() - started, 2)


def make_runner(
    request: ProbeRequest, root: str, workers: int | None = None, symptom: Symptoms = symptom_of
) -> Runner:
    """A runner for :func:`..search.search`: each batch in parallel on up to ``workers`` cores;
    ``symptom``: what of a re-probe's snapshot is compared (the collection's, or the tests')."""
    count = workers or max(1, min(4, os.cpu_count() or 1))

    def run(batch: Sequence[Intervention]) -> Sequence[Result]:
        if len(batch) <= 1 or count == 1:
            return [_one(request, item, root, symptom) for item in batch]
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(count, len(batch))) as pool:
            return list(pool.map(lambda item: _one(request, item, root, symptom), batch))

    return run
