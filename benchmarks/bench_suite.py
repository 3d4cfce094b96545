"""Wall time of the README's test command for two git refs, back to back on one machine.

    python3 benchmarks/bench_suite.py --before d2bfb48 --after test-speed [--repeat 2]

For each run: a fresh ``git worktree add --detach`` of the ref in a temporary directory, then
the README's second command exactly as that ref's README.md writes it (``python3 -m venv
.venv && .venv/bin/python -m pip install -q -e '.[test]' && .venv/bin/python -m pytest -n
auto``), each ``&&`` step timed. Runs alternate (before, after, before, after, ...) so slow
spells of a shared machine fall on both sides. Both sides use the same pip and uv caches
(the user's, or ``--pip-cache DIR``); each run gets its own empty ``TMPDIR``, so pytest's
clean-up of earlier sessions' ``/tmp/pytest-of-$USER`` directories (other people's runs
included) is not timed. The worktrees are removed afterwards unless ``--keep``.

Prints one row per run and a summary (median per ref, ratio before/after) as Markdown. A run
whose command fails is reported with its exit code and left out of the summary.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Run:
    label: str
    ref: str
    commit: str
    number: int
    steps: list[tuple[str, float]] = field(default_factory=list)
    returncode: int = 0
    load_before: float = 0.0
    load_after: float = 0.0
    summary: str = ""

    @property
    def total(self) -> float:
        return sum(seconds for _, seconds in self.steps)


def _git(*args: str) -> str:
    proc = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def readme_test_command(checkout: Path) -> list[str]:
    """The README's test command (the line of its first block that runs pytest), split at ``&&``."""
    for line in (checkout / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("python3 -m venv") and "pytest" in line:
            return [step.strip() for step in line.split("&&")]
    msg = f"no test command (python3 -m venv ... pytest) in {checkout / 'README.md'}"
    raise SystemExit(msg)


def _short(step: str) -> str:
    words = shlex.split(step)
    if "pytest" in words:
        return "pytest"
    if "pip" in words:
        return "pip install"
    return "venv" if "venv" in words else words[0]


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _step(step: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run one step in its own process group, so an interrupted benchmark leaves nothing running."""
    with subprocess.Popen(
        ["bash", "-c", step],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate()
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def measure(run: Run, workdir: Path, env: dict[str, str], keep: bool) -> None:
    checkout = workdir / f"{run.label}-{run.number}"
    _git("worktree", "add", "--detach", "--quiet", str(checkout), run.commit)
    tmp = workdir / f"tmp-{run.label}-{run.number}"
    tmp.mkdir()
    tmp.chmod(0o1777)  # like /tmp: the RabbitMQ fixture's server runs as the rabbitmq user
    try:
        run_env = {**env, "TMPDIR": str(tmp)}
        run.load_before = os.getloadavg()[0]
        for step in readme_test_command(checkout):
            started = time.perf_counter()
            proc = _step(step, checkout, run_env)
            run.steps.append((_short(step), time.perf_counter() - started))
            run.summary = _last_line(proc.stdout) or _last_line(proc.stderr)
            if proc.returncode != 0:
                run.returncode = proc.returncode
                sys.stderr.write(f"{run.label} run {run.number}: `{step}` exited {proc.returncode}\n")
                sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-2000:] + "\n")
                break
        run.load_after = os.getloadavg()[0]
    finally:
        if not keep:
            _git("worktree", "remove", "--force", str(checkout))
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="git ref measured first in each round")
    parser.add_argument("--after", required=True, help="git ref measured second in each round")
    parser.add_argument("--repeat", type=int, default=1, help="rounds (before then after), default 1")
    parser.add_argument("--pip-cache", type=Path, help="PIP_CACHE_DIR for both sides (default: pip's own)")
    parser.add_argument("--keep", action="store_true", help="keep the worktrees and temporary directories")
    args = parser.parse_args(argv)

    refs = {"before": args.before, "after": args.after}
    commits = {label: _git("rev-parse", "--verify", f"{ref}^{{commit}}") for label, ref in refs.items()}
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTEST_ADDOPTS")}
    if args.pip_cache:
        env["PIP_CACHE_DIR"] = str(args.pip_cache.absolute())

    runs: list[Run] = []
    workdir = Path(tempfile.mkdtemp(prefix="tba-bench-suite-"))
    workdir.chmod(0o755)  # mkdtemp's 0700 would lock the rabbitmq user out of TMPDIR below it
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the worktrees on kill
    print(
        f"{datetime.date.today()}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}; before = {refs['before']} ({commits['before'][:7]}), "
        f"after = {refs['after']} ({commits['after'][:7]}); work in {workdir}",
        flush=True,
    )
    try:
        for number in range(1, args.repeat + 1):
            for label in ("before", "after"):
                run = Run(label, refs[label], commits[label], number)
                measure(run, workdir, env, args.keep)
                runs.append(run)
                steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in run.steps)
                print(f"  {label} #{number}: {run.total:.1f} s ({steps}) - {run.summary}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
            _git("worktree", "prune")

    print()
    print("| run | ref | venv + pip install (s) | pytest -n auto (s) | total (s) | load avg | result |")
    print("|---|---|---:|---:|---:|---|---|")
    for run in runs:
        setup = sum(seconds for name, seconds in run.steps if name != "pytest")
        tests = sum(seconds for name, seconds in run.steps if name == "pytest")
        result = run.summary if run.returncode == 0 else f"exit {run.returncode}: {run.summary}"
        print(
            f"| {run.label} #{run.number} | `{run.ref}` ({run.commit[:7]}) | {setup:.1f} | {tests:.1f} | "
            f"{run.total:.1f} | {run.load_before:.1f} / {run.load_after:.1f} | {result} |"
        )
    good = {label: [r for r in runs if r.label == label and r.returncode == 0] for label in refs}
    if all(good.values()):
        print()
        print("| ref | median pytest (s) | median total (s) |")
        print("|---|---:|---:|")
        medians = {}
        for label, ok in good.items():
            tests = statistics.median(s for r in ok for name, s in r.steps if name == "pytest")
            medians[label] = (tests, statistics.median(r.total for r in ok))
            print(f"| `{refs[label]}` | {medians[label][0]:.1f} | {medians[label][1]:.1f} |")
        before, after = medians["before"], medians["after"]
        print()
        print(
            f"before/after: pytest {before[0] / after[0]:.2f}x, whole command {before[1] / after[1]:.2f}x "
            f"(after takes {after[0] / before[0]:.0%} / {after[1] / before[1]:.0%} of before)"
        )
    return 0 if all(r.returncode == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
