"""benchmarks/suite_profile.py: the suite-profile plugin records every test, the summary reads it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import suite_profile  # noqa: E402


def test_one_line_per_test_with_the_cpu_of_its_subprocesses(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        """
        import subprocess, sys

        def test_spins_a_child():
            subprocess.run([sys.executable, "-c", "sum(i * i for i in range(3_000_000))"], check=True)

        def test_sleeps():
            import time; time.sleep(0.3)
        """
    )
    out = pytester.path / "profile.jsonl"
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    result = pytester.runpytest_subprocess("-p", "benchmarks.suite_profile", f"--suite-profile={out}")
    result.assert_outcomes(passed=2)
    rows = {r.id.split("::")[1]: r for r in suite_profile.load(out)}
    assert set(rows) == {"test_spins_a_child", "test_sleeps"}
    assert rows["test_spins_a_child"].cpu > 0.1  # the child's CPU counts
    assert rows["test_sleeps"].wall - rows["test_sleeps"].cpu > 0.2  # a wait shows as wall - CPU
    text = suite_profile.summary(list(rows.values()), cores=2)
    assert text.splitlines()[0].startswith("2 tests; span ")
    assert "| main | 2 |" in text


def test_a_file_that_is_not_a_profile_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "profile.jsonl"
    bad.write_text(json.dumps({"nodeid": "x"}) + "\n", encoding="utf-8")
    assert suite_profile.main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}: not a --suite-profile file")
    assert err.count("\n") == 1
