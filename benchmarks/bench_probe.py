"""Cost of a snapshot next to its peers, measured in one run on one machine.

    .venv/bin/python benchmarks/bench_probe.py [--dists 1000] [--repeat 5]

Builds a virtualenv with pytest and N synthetic distributions (real ``*.dist-info``
directories with METADATA, RECORD, INSTALLER and a module each, as a wheel install leaves
them), then times, best of ``--repeat``:

* ``broker-audit snapshot`` (the probe: start-up trace, distributions, pytest collection);
* ``pip inspect`` and ``pip list`` on the same env (what the probe replaces for packages);
* plain ``pytest --collect-only`` on the same project (what the probe runs in-process).

Prints a Markdown table with absolute seconds and ratios to ``pip inspect``; the numbers
go into docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path


def _run(cmd: Sequence[str | os.PathLike[str]], cwd: Path | None = None) -> None:
    subprocess.run([str(c) for c in cmd], cwd=cwd, check=True, capture_output=True)


def add_synthetic_dists(python: Path, dists: int, prefix: str) -> None:
    """``dists`` tiny installed distributions (``{prefix}_0000`` …: a module, METADATA, INSTALLER,
    RECORD) in ``python``'s site-packages: what the probe's distribution scan reads, without
    installing real packages (shared by bench_probe.py and bench_tox.py)."""
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    for i in range(dists):
        name = f"{prefix}_{i:04d}"
        info = site / f"{name}-1.{i}.0.dist-info"
        info.mkdir()
        (site / f"{name}.py").write_text(f"VALUE = {i}\n", encoding="utf-8")
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.{i}.0\n", encoding="utf-8"
        )
        (info / "INSTALLER").write_text("pip\n", encoding="utf-8")
        (info / "RECORD").write_text(
            f"{name}.py,,\n{info.name}/METADATA,,\n{info.name}/INSTALLER,,\n{info.name}/RECORD,,\n",
            encoding="utf-8",
        )


def build_env(root: Path, dists: int) -> Path:
    venv = root / "env"
    _run([sys.executable, "-m", "virtualenv", "-q", venv])
    python = venv / "bin" / "python"
    _run([python, "-m", "pip", "install", "-q", "pytest"])
    add_synthetic_dists(python, dists, "synthetic_pkg")
    return venv


def build_project(root: Path) -> Path:
    project = root / "project"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "conftest.py").write_text("import os\nFLAG = os.getenv('UNIT_TESTS')\n")
    for i in range(20):
        (project / "tests" / f"test_{i}.py").write_text(
            "\n".join(f"def test_{j}():\n    assert {j} == {j}\n" for j in range(10))
        )
    return project


def best_of(repeat: int, cmd: Sequence[str | os.PathLike[str]], cwd: Path) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        _run(cmd, cwd)
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dists", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tba-bench-") as tmp:
        root = Path(tmp)
        venv = build_env(root, args.dists)
        project = build_project(root)
        python = venv / "bin" / "python"
        out = root / "snap.json"
        cases = {
            "broker-audit snapshot": [
                sys.executable,
                "-m",
                "tox_broker_audit",
                "snapshot",
                "--python",
                venv,
                "-o",
                out,
            ],
            "pip inspect": [python, "-m", "pip", "inspect"],
            "pip list": [python, "-m", "pip", "list"],
            "pytest --collect-only": [
                venv / "bin" / "pytest",
                "--collect-only",
                "-q",
                "-p",
                "no:cacheprovider",
            ],
        }
        results = {name: best_of(args.repeat, cmd, project) for name, cmd in cases.items()}
        snapshot_dists = out.read_text().count('"raw_name"')
    ref = results["pip inspect"]
    python_version = sys.version.split()[0]
    print(
        f"env: {args.dists} synthetic distributions + pytest; best of {args.repeat}; Python {python_version}"
    )
    print(f"distributions in the snapshot: {snapshot_dists}\n")
    print("| command | seconds | ratio to `pip inspect` |")
    print("|---|---:|---:|")
    for name, seconds in results.items():
        print(f"| `{name}` | {seconds:.3f} | {seconds / ref:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
