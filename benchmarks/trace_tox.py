"""Where an audited tox run spends its time, per thread: run tox with wrappers around the audit's
stages and print each call's start, end and duration (seconds from start-up) and its thread.

    cd PROJECT && python benchmarks/trace_tox.py -e py --broker-audit -- tests/test_a.py

The audit's work runs in threads (the background baseline, the selected baseline beside the
env's commands, the env's own audit on tox's driver thread), so a profile of the main thread
misses most of it; this shows which of them is on the critical path. tox's own output goes
to stdout, the trace to stderr.
"""

from __future__ import annotations

import atexit
import functools
import sys
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

_T0 = time.perf_counter()
_CALLS: list[tuple[float, float, str, str]] = []

#: (module, function names): the probes, the pipeline's stages, the artefacts and renderers.
_TRACED = (
    ("tox_broker_audit.snapshot.capture", ("take_snapshot",)),
    (
        "tox_broker_audit._audit",
        ("take_baseline", "capture", "run_audit", "_reproduced", "_tested", "_build_report", "_verified"),
    ),
    ("tox_broker_audit._audit", ("_with_edits",)),
    ("tox_broker_audit._outputs", ("write_artefacts", "render_outputs")),
    ("tox_broker_audit.snapshot.io", ("dump_snapshot",)),
    ("tox_broker_audit.renderers", ("render",)),
    ("tox_broker_audit.renderers.json", ("report_to_dict",)),
)


def _wrap(module: ModuleType, name: str) -> None:
    original: Callable[..., Any] = getattr(module, name)

    @functools.wraps(original)
    def traced(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            label = f"{module.__name__.rsplit('.', 1)[-1]}.{name}"
            _CALLS.append((start - _T0, time.perf_counter() - _T0, label, threading.current_thread().name))

    setattr(module, name, traced)


def _report() -> None:
    for start, end, label, thread in sorted(_CALLS):
        print(f"{start:6.2f} {end:6.2f} {end - start:5.2f}  {label}  [{thread}]", file=sys.stderr)
    print(f"total {time.perf_counter() - _T0:.2f} s", file=sys.stderr)


def main() -> None:
    import importlib

    for module_name, names in _TRACED:
        module = importlib.import_module(module_name)
        for name in names:
            _wrap(module, name)
    atexit.register(_report)
    from tox.run import run

    sys.argv = ["tox", *sys.argv[1:]]
    run()


if __name__ == "__main__":
    main()
