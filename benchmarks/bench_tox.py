"""What ``tox --broker-audit`` adds to a tox run, measured in one run on one machine.

    .venv/bin/python benchmarks/bench_tox.py [--shape all|example|inner] [--repeat 3]
        [--pairs 5] [--suite-pairs 2] [--dists 1000]

Two shapes. ``example``: on a copy of the shipped example (``examples/stubbroker-under-tox``)
with a local venv as a developer has it, times, best of ``--repeat``:

* ``tox -e py`` with the env already built (the everyday re-run) and with ``-r``
  (recreate: what a CI job pays);
* the same two with ``--broker-audit`` (baseline probe in the background, target probe,
  diagnosis, the verify stage's re-probes with the default budget, report, artefacts), and
  the warm run with ``--broker-audit-verify=off`` (what the verification adds).

The example's tests fail under tox (that is its point), so exit codes are not checked;
each run is verified to have produced what it should. Prints a Markdown table with the
ratios to plain tox.

``inner``: the developer's inner loop (docs/performance.md, "The inner loop"): a generated
project of 10,000 trivial tests in 100 files, a local ``.venv`` with pytest and ``--dists``
local-only distributions (so the diff has about that many differences), the tox env built
once; then ``--pairs`` pairs of ``tox -e py -- tests/test_000.py tests/test_001.py`` plain and
with ``--broker-audit``, alternating, and ``--suite-pairs`` pairs of the whole suite. Prints
the medians of wall and CPU time (the command and its children), the median of the pairs'
ratios and the load average. The numbers go into docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench_probe import add_synthetic_dists  # run as a script: benchmarks/ is sys.path[0]

from tox_broker_audit._ci import CI_VARIABLES

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "stubbroker-under-tox"


def _run(cmd: Sequence[str | os.PathLike[str]], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, check=False)
    return time.perf_counter() - start


def example(tmp: Path, base_env: dict[str, str], repeat: int) -> None:
    """The shipped example, warm and recreated, plain and audited (best of ``repeat``)."""
    project = tmp / "example"
    shutil.copytree(EXAMPLE, project)
    env = dict(base_env)
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
    for _ in range(repeat):  # interleaved, so drift hits every case alike
        for name, cmd in cases.items():
            results[name] = min(results[name], _run(cmd, project, env))
    report = project / ".tox" / "py" / "broker-audit" / "report.json"
    assert report.is_file(), "the audited run wrote no report"
    top = json.loads(report.read_text(encoding="utf-8"))["findings"][0]
    print(f"top finding {top['code']} {top['subject']}: verification {top['verification']}\n")
    plain_warm = results["tox -e py (env exists)"]
    plain_fresh = results["tox -e py -r (recreate)"]
    print(f"example project, best of {repeat}, interleaved; Python {sys.version.split()[0]}\n")
    print("| command | seconds | ratio to the same plain tox run |")
    print("|---|---:|---:|")
    for name, seconds in results.items():
        ref = plain_fresh if "-r" in name else plain_warm
        print(f"| `{name}` | {seconds:.2f} | {seconds / ref:.2f} |")
    print()


# --------------------------------------------------------------------------- the inner loop

#: The inner-loop project: trivial tests in files, the two a developer re-runs.
INNER_FILES = 100
INNER_TESTS_PER_FILE = 100
SELECTED = ("tests/test_000.py", "tests/test_001.py")


def _timed(cmd: Sequence[str | os.PathLike[str]], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and the CPU seconds (user + system) of the command and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def build_inner_project(root: Path, dists: int) -> Path:
    """10k trivial tests in 100 files, ``tox -e py`` running ``pytest {posargs}``, and a local
    ``.venv`` with pytest and ``dists`` local-only distributions (``*.dist-info`` directories
    with METADATA, INSTALLER, RECORD and a module each, as a wheel install leaves them: what
    ``probe/_tba_dists.py`` reads)."""
    project = root / "inner"
    tests = project / "tests"
    tests.mkdir(parents=True)
    body = "".join(f"def test_{j}():\n    assert {j} == {j}\n\n\n" for j in range(INNER_TESTS_PER_FILE))
    for i in range(INNER_FILES):
        (tests / f"test_{i:03d}.py").write_text(body, encoding="utf-8")
    (project / "tox.ini").write_text(
        "[tox]\nenv_list = py\n\n[testenv]\nskip_install = true\ndeps = pytest\n"
        "commands = pytest -q -p no:cacheprovider {posargs}\n",
        encoding="utf-8",
    )
    subprocess.run([sys.executable, "-m", "venv", ".venv"], cwd=project, check=True)
    python = project / ".venv" / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", "pytest"], cwd=project, check=True)
    add_synthetic_dists(python, dists, "local_only")
    return project


def _paired(
    cases: dict[str, tuple[list[str], list[str]]], pairs: int, project: Path, env: dict[str, str]
) -> list[tuple[str, list[tuple[float, float]], list[tuple[float, float]]]]:
    """``pairs`` runs of each (plain, audited) pair, the two alternating."""
    out = []
    for name, (plain, audited) in cases.items():
        plain_runs, audited_runs = [], []
        for _ in range(pairs):
            plain_runs.append(_timed(plain, project, env))
            audited_runs.append(_timed(audited, project, env))
        out.append((name, plain_runs, audited_runs))
    return out


def inner_loop(tmp: Path, env: dict[str, str], pairs: int, suite_pairs: int, dists: int) -> None:
    project = tmp / "inner"
    if not (project / "tox.ini").is_file():  # --workdir: built once, reused
        project = build_inner_project(tmp, dists)
    tox = [sys.executable, "-m", "tox", "-e", "py"]
    subprocess.run([*tox, "--notest"], cwd=project, env=env, capture_output=True, check=True)
    audit = ["--broker-audit"]
    load = os.getloadavg()
    results = _paired(
        {f"`tox -e py -- {' '.join(SELECTED)}`": ([*tox, "--", *SELECTED], [*tox, *audit, "--", *SELECTED])},
        pairs,
        project,
        env,
    )
    if suite_pairs:
        results += _paired({"`tox -e py` (whole suite)": (tox, [*tox, *audit])}, suite_pairs, project, env)
    end = os.getloadavg()
    report = json.loads(
        (project / ".tox" / "py" / "broker-audit" / "report.json").read_text(encoding="utf-8")
    )
    print(
        f"inner loop: {INNER_FILES * INNER_TESTS_PER_FILE} tests in {INNER_FILES} files, {dists} local-only "
        f"distributions; the last report has {len(report['findings'])} findings; load average "
        f"{load[0]:.1f} at the start, {end[0]:.1f} at the end; Python {sys.version.split()[0]}\n"
    )
    print("| command | pairs | plain wall / CPU (s) | audited wall / CPU (s) | ratio (wall) | added (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, plain_runs, audited_runs in results:
        pw, pc = (statistics.median(r[i] for r in plain_runs) for i in (0, 1))
        aw, ac = (statistics.median(r[i] for r in audited_runs) for i in (0, 1))
        ratio = statistics.median(a[0] / p[0] for p, a in zip(plain_runs, audited_runs))
        cells = f"{pw:.2f} / {pc:.2f} | {aw:.2f} / {ac:.2f} | {ratio:.2f} | {aw - pw:.2f}"
        print(f"| {name} | {len(plain_runs)} | {cells} |")
    print()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=("all", "example", "inner"), default="all")
    parser.add_argument("--repeat", type=int, default=3, help="example: best of")
    parser.add_argument("--pairs", type=int, default=5, help="inner: pairs of the two-file run")
    parser.add_argument("--suite-pairs", type=int, default=2, help="inner: pairs of the whole suite")
    parser.add_argument("--dists", type=int, default=1000, help="inner: local-only distributions")
    parser.add_argument("--workdir", type=Path, help="build (or reuse) the projects here, keep them")
    args = parser.parse_args(argv)
    # The developer's shell, not a CI job: no VIRTUAL_ENV (the baseline finds .venv), no CI.
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV" and k not in CI_VARIABLES}
    with tempfile.TemporaryDirectory(prefix="tba-bench-tox-") as tmp:
        where = args.workdir.absolute() if args.workdir else Path(tmp)
        if args.shape in ("all", "inner"):
            inner_loop(where, env, args.pairs, args.suite_pairs, args.dists)
        if args.shape in ("all", "example"):
            example(Path(tmp), env, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
