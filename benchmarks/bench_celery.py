"""What the Celery probe costs: nothing without Celery, little with it. One run, one machine.

    .venv/bin/python benchmarks/bench_celery.py --old-src /tmp/wt-old/src [--pairs 8]

``--old-src``: the ``src`` directory of a checkout from before the Celery probe (``git worktree
add /tmp/wt-old <rev>``). Builds one uv venv with pytest and one with pytest + celery, writes a
project of 300 tests (the Celery one calls ``delay()`` in each, eagerly), then times in
interleaved pairs (median):

* ``broker-audit snapshot`` of the project without Celery, this checkout against ``--old-src``:
  the import watcher's three extra names are the only difference there;
* the same for the Celery project (the apps' settings are read at the end);
* plain ``pytest --collect-only`` in the Celery venv, the peer the snapshot is measured against.

Prints a Markdown table; the numbers go into docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"


def _venv(where: Path, *packages: str) -> Path:
    subprocess.run([UV, "venv", "-q", "--python", sys.executable, where], check=True)
    python = where / "bin" / "python"
    subprocess.run([UV, "pip", "install", "-q", "--python", python, *packages], check=True)
    return python


def _project(root: Path, celery: bool) -> Path:
    (root / "tests").mkdir(parents=True)
    if celery:
        (root / "app.py").write_text(
            "from celery import Celery\n\napp = Celery('bench', broker='memory://')\n"
            "app.conf.task_always_eager = True\n\n\n@app.task\ndef add(x, y):\n    return x + y\n"
        )
    for i in range(30):
        body = "from app import add\n\n" if celery else ""
        for j in range(10):
            call = f"    assert add.delay({j}, 1).get() == {j + 1}\n" if celery else f"    assert {j} + 1\n"
            body += f"\ndef test_{i}_{j}():\n{call}"
        (root / "tests" / f"test_{i:02d}.py").write_text(body)
    return root


def _snapshot(python: Path, project: Path, src: Path, out: Path) -> float:
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{project}"}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tox_broker_audit", "snapshot", "--python", python, "-o", out],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def _collect(python: Path, project: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [python, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project)},
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--old-src", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tba-bench-celery-"))
    try:
        plain = _venv(work / "plain", "pytest")
        with_celery = _venv(work / "celery", "pytest", "celery")
        cases = [
            ("no Celery", plain, _project(work / "p-plain", celery=False)),
            ("Celery, 300 eager delay() tests", with_celery, _project(work / "p-celery", celery=True)),
        ]
        print("| project | snapshot, before | snapshot, now | now / before | pytest --collect-only |")
        print("|---|---:|---:|---:|---:|")
        for name, python, project in cases:
            before, now, peer = [], [], []
            for _ in range(args.pairs):
                before.append(_snapshot(python, project, args.old_src, work / "old.json"))
                now.append(_snapshot(python, project, SRC, work / "new.json"))
                peer.append(_collect(python, project))
            b, n, c = (statistics.median(x) for x in (before, now, peer))
            print(f"| {name} | {b:.2f} s | {n:.2f} s | {n / b:.2f}× | {c:.2f} s |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
