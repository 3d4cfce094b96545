"""What ``tox --broker-audit`` adds to a tox run, measured in one run on one machine.

    .venv/bin/python benchmarks/bench_tox.py [--repeat 3]

On a copy of the shipped example (``examples/stubbroker-under-tox``) with a local venv as
a developer has it, times, best of ``--repeat``:

* ``tox -e py`` with the env already built (the everyday re-run) and with ``-r``
  (recreate: what a CI job pays);
* the same two with ``--broker-audit`` (baseline probe in the background, target probe,
  diagnosis, the verify stage's re-probes with the default budget, report, artefacts), and
  the warm run with ``--broker-audit-verify=off`` (what the verification adds).

The example's tests fail under tox (that is its point), so exit codes are not checked;
each run is verified to have produced what it should. Prints a Markdown table with the
ratios to plain tox; the numbers go into docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "stubbroker-under-tox"


def _run(cmd: Sequence[str | os.PathLike[str]], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, check=False)
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tba-bench-tox-") as tmp:
        project = Path(tmp) / "example"
        shutil.copytree(EXAMPLE, project)
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        env["UNIT_TESTS"] = "1"  # the developer's shell
        subprocess.run([sys.executable, "-m", "venv", ".venv"], cwd=project, check=True)
        subprocess.run(
            [project / ".venv" / "bin" / "python", "-m", "pip", "install", "-q", "-e", ".[test]"],
            cwd=project,
            check=True,
        )
        tox = [sys.executable, "-m", "tox", "-e", "py"]
        cases = {
            "tox -e py (env exists)": [*tox],
            "tox -e py --broker-audit --broker-audit-verify=off (env exists)": [
                *tox,
                "--broker-audit",
                "--broker-audit-verify=off",
            ],
            "tox -e py --broker-audit (env exists)": [*tox, "--broker-audit"],
            "tox -e py -r (recreate)": [*tox, "-r"],
            "tox -e py -r --broker-audit (recreate)": [*tox, "-r", "--broker-audit"],
        }
        _run(tox, project, env)  # build the env once so "env exists" means that
        results: dict[str, float] = {name: float("inf") for name in cases}
        for _ in range(args.repeat):  # interleaved, so drift hits every case alike
            for name, cmd in cases.items():
                results[name] = min(results[name], _run(cmd, project, env))
        report = project / ".tox" / "py" / "broker-audit" / "report.json"
        assert report.is_file(), "the audited run wrote no report"
        top = json.loads(report.read_text(encoding="utf-8"))["findings"][0]
        print(f"top finding {top['code']} {top['subject']}: verification {top['verification']}\n")
    plain_warm = results["tox -e py (env exists)"]
    plain_fresh = results["tox -e py -r (recreate)"]
    print(f"example project, best of {args.repeat}, interleaved; Python {sys.version.split()[0]}\n")
    print("| command | seconds | ratio to the same plain tox run |")
    print("|---|---:|---:|")
    for name, seconds in results.items():
        ref = plain_fresh if "-r" in name else plain_warm
        print(f"| `{name}` | {seconds:.2f} | {seconds / ref:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
