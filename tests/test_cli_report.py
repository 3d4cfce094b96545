"""``broker-audit diff`` / ``compare``: formats, --fail-on exit codes, -o, errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from _snapshot_factory import PROJECT, make_snapshot, origin, read
from helpers import run
from tox_broker_audit.cli import main
from tox_broker_audit.snapshot.io import dump_snapshot
from tox_broker_audit.snapshot.model import Snapshot

B, T = "/proj/.venv", "/proj/.tox/py"


def pair(tmp_path: Path) -> tuple[Path, Path]:
    app = [origin("app.broker", f"{PROJECT}/app/broker.py", in_project=True)]
    base = make_snapshot(
        prefix=B,
        env={"UNIT_TESTS": "1", "X": "1"},
        origins=app,
        reads=[read("UNIT_TESTS", f"{PROJECT}/app/broker.py", module="app.broker")],
    )
    target = make_snapshot(
        prefix=T,
        env={"X": "1"},
        origins=app,
        reads=[read("UNIT_TESTS", f"{PROJECT}/app/broker.py", module="app.broker", present=False)],
    )
    return save(tmp_path / "b.json", base), save(tmp_path / "t.json", target)


def save(path: Path, snap: Snapshot) -> Path:
    dump_snapshot(snap, path)
    return path


def test_diff_terminal_and_fail_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b, t = pair(tmp_path)
    assert main(["diff", str(b), str(t)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith("✖ UNIT_TESTS is set in the baseline")
    assert main(["diff", str(b), str(t), "--fail-on", "never"]) == 0
    assert main(["diff", str(b), str(b)]) == 0
    assert main(["diff", str(b), str(t), "--ignore", "BA101"]) == 0


def test_diff_json_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b, t = pair(tmp_path)
    out_file = tmp_path / "out" / "report.json"
    assert main(["diff", str(b), str(t), "--format", "json", "-o", str(out_file), "--env", "py"]) == 1
    data = json.loads(out_file.read_text(encoding="utf-8"))
    assert data["env"] == "py"
    assert data["findings"][0]["code"] == "BA101"
    assert "report written to" in capsys.readouterr().err


def test_usage_and_input_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b, _ = pair(tmp_path)
    assert main(["diff", str(b), str(tmp_path / "missing.json")]) == 2
    assert "snapshot file not found" in capsys.readouterr().err
    assert main(["diff", str(b), str(b), "--format", "nope"]) == 2
    assert "unknown --format" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["diff", str(b), str(b), "--fail-on", "sometimes"])
    assert exc.value.code == 2
    assert main(["compare", "--baseline", str(tmp_path / "no-python"), "--target", str(b)]) == 2


def test_compare_accepts_snapshot_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b, t = pair(tmp_path)
    assert main(["compare", "--baseline", str(b), "--target", str(t), "--format", "markdown"]) == 1
    assert "## Broker audit" in capsys.readouterr().out


def test_compare_one_real_venv_with_itself_has_no_error_or_warning(tmp_path: Path) -> None:
    venv = Path(sys.executable).parent.parent
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("def test_a():\n    pass\n", encoding="utf-8")
    proc = run(
        [
            Path(sys.executable).parent / "broker-audit",
            "compare",
            "--baseline",
            venv,
            "--target",
            venv,
            "--fail-on",
            "warning",
            "--format",
            "json",
        ],
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["summary"]["error"] == data["summary"]["warning"] == 0


def test_compare_verify_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b, t = pair(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--baseline", str(b), "--target", str(t), "--verify-budget", "lots"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "broker-audit: error: argument --verify-budget: bad verify budget 'lots' "
        "(expected RUNS or RUNS/SECONDS, e.g. 12/60)"
    ]
    # A snapshot-file target has no interpreter to re-run: said when asked for, nothing verified.
    args = ["compare", "--baseline", str(b), "--target", str(t), "--format", "json"]
    assert main([*args, "--verify", "always", "--verify-budget", "3/10"]) == 1
    captured = capsys.readouterr()
    assert "the target is a snapshot file, which cannot be re-run" in captured.err
    assert all(f["verification"] is None for f in json.loads(captured.out)["findings"])
