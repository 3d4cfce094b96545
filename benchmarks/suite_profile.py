"""Where the test suite's time goes: wall and CPU seconds per test, per xdist worker, per module.

    .venv/bin/python -m pytest -n auto -p no:randomly -p benchmarks.suite_profile \\
        --suite-profile=/tmp/profile.jsonl
    .venv/bin/python benchmarks/suite_profile.py /tmp/profile.jsonl

As a pytest plugin (``-p benchmarks.suite_profile``, run from the repository root) it appends one
JSON line per test to the ``--suite-profile`` file: the node id, the xdist worker, the wall
start and end, and the CPU seconds the test used, its finished subprocesses included (real tox,
pip, virtualenv, the probe: they are most of the suite). As a script it reads that file and
prints Markdown: the span, each worker's busy time, the CPU total and the floor it sets on
this many cores, the tests that waited longest (wall minus CPU) and the modules by CPU.

Speed only: no test asserts a timing (tests/test_suite_profile.py checks what is recorded).
The figures go into docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: Any) -> None:
    parser.addoption("--suite-profile", metavar="FILE", help="append one JSON line per test to FILE")


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _record(item: Any, started: float, cpu_before: float) -> None:
    config = item.config
    path = config.getoption("suite_profile")
    if not path:
        return
    row = {
        "id": item.nodeid,
        "worker": getattr(config, "workerinput", {}).get("workerid", "main"),  # not the env: inherited
        "start": started,
        "end": time.time(),
        "cpu": _cpu() - cpu_before,
    }
    with open(path, "a", encoding="utf-8") as out:  # one short write per line: safe across workers
        out.write(json.dumps(row) + "\n")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: Any) -> Iterator[None]:
    started, cpu_before = time.time(), _cpu()
    try:
        return (yield)
    finally:
        _record(item, started, cpu_before)


@dataclass(frozen=True)
class Row:
    id: str
    worker: str
    start: float
    end: float
    cpu: float

    @property
    def wall(self) -> float:
        return self.end - self.start

    @property
    def module(self) -> str:
        return self.id.split("::", 1)[0]


def load(path: Path) -> list[Row]:
    return [Row(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line]


def summary(rows: Sequence[Row], cores: int) -> str:
    t0, t1 = min(r.start for r in rows), max(r.end for r in rows)
    cpu = sum(r.cpu for r in rows)
    lines = [
        f"{len(rows)} tests; span {t1 - t0:.0f} s; CPU {cpu:.0f} s (tests and their subprocesses); "
        f"on {cores} cores that is at least {cpu / cores:.0f} s",
        "",
        "| worker | tests | busy (s) | busy / span |",
        "|---|---:|---:|---:|",
    ]
    for worker in sorted({r.worker for r in rows}):
        mine = [r for r in rows if r.worker == worker]
        busy = sum(r.wall for r in mine)
        lines.append(f"| {worker} | {len(mine)} | {busy:.0f} | {busy / (t1 - t0):.0%} |")
    lines += ["", "| waited (wall - CPU, s) | wall (s) | test |", "|---:|---:|---|"]
    for r in sorted(rows, key=lambda r: r.wall - r.cpu, reverse=True)[:8]:
        lines.append(f"| {r.wall - r.cpu:.1f} | {r.wall:.1f} | `{r.id}` |")
    cpu_by: dict[str, float] = {}
    wall_by: dict[str, float] = {}
    for r in rows:
        cpu_by[r.module] = cpu_by.get(r.module, 0.0) + r.cpu
        wall_by[r.module] = wall_by.get(r.module, 0.0) + r.wall
    lines += ["", "| module | CPU (s) | share | wall (s) |", "|---|---:|---:|---:|"]
    for module, seconds in sorted(cpu_by.items(), key=lambda kv: kv[1], reverse=True)[:10]:
        lines.append(f"| `{module}` | {seconds:.0f} | {seconds / cpu:.0%} | {wall_by[module]:.0f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, help="the --suite-profile file of a pytest run")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    try:
        rows = load(args.profile)
    except (OSError, ValueError, TypeError) as exc:
        print(f"{args.profile}: not a --suite-profile file ({exc})", file=sys.stderr)
        return 2
    if not rows:
        print(f"{args.profile}: no tests recorded", file=sys.stderr)
        return 2
    print(summary(rows, args.cores))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
