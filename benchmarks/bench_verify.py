"""Re-probes per scenario: what the verify stage spent in each real-tox scenario run.

    .venv/bin/python -m pytest tests/scenarios -p no:randomly -n 2 --basetemp=/tmp/scen
    .venv/bin/python benchmarks/bench_verify.py /tmp/scen

Reads every ``.tox/py/broker-audit/report.json`` the scenario runs left under the base
temporary directory and prints a Markdown table: the top finding, its verification status,
what decided (``tests``: the env's failing tests passing; ``collection``), the re-runs the verify
stage ran for the env (the sum over the findings it tested and BA701's search; the oracle's
own first runs of the failing tests on both sides are not counted) and the wall seconds of
its longest batch (plus BA701's search). Only the scenarios' reports count (other tests leave
some under the same directory). The numbers go into docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path


def _row(report_file: Path) -> tuple[str, str, str, str, int, float]:
    report = json.loads(report_file.read_text(encoding="utf-8"))
    scenario = report_file.parents[3].name
    findings = report["findings"]
    tested = [(f["code"], f["verification"]) for f in findings if f.get("verification")]
    top = findings[0] if findings else None
    status = (top.get("verification") or {}).get("status", "-") if top else "-"
    oracle = (top.get("verification") or {}).get("oracle", "-") if top else "-"
    runs = sum(v["runs"] for _, v in tested)  # each tested finding's re-probes, BA701's search
    batch = max((v["seconds"] for code, v in tested if code != "BA701"), default=0.0)
    seconds = batch + sum(v["seconds"] for code, v in tested if code == "BA701")
    return scenario, f"{top['code']} {top['subject']}" if top else "-", status, oracle, runs, seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("basetemp", type=Path)
    args = parser.parse_args(argv)
    scenarios = Path(__file__).resolve().parents[1] / "tests" / "scenarios"
    found = args.basetemp.glob("**/.tox/py/broker-audit/report.json")
    # Other tests under the same base directory leave reports too: only the scenarios count.
    rows = sorted(row for row in map(_row, found) if (scenarios / row[0] / "scenario.toml").is_file())
    print("| scenario | top finding | verification | oracle | re-runs | seconds |")
    print("|---|---|---|---|---:|---:|")
    for scenario, top, status, oracle, runs, seconds in rows:
        print(f"| {scenario} | `{top}` | {status} | {oracle} | {runs} | {seconds:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
