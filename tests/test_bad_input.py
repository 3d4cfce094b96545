"""Broken and hostile input to the command line: one clear line and exit code 2, never a
traceback, and never a FIFO, device or directory replaced by a regular file (issue 13).

Each test runs the real ``broker-audit`` in a subprocess: what the user sees is its stderr
and exit code (the timeout values also in-process, the same check without a process each).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from _snapshot_factory import PROJECT, make_snapshot, origin
from helpers import CLI, run
from tox_broker_audit.snapshot.io import dump_snapshot


def cli(
    *args: str | os.PathLike[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    proc = run([*CLI, *args], cwd=cwd, env=env, check=False, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def assert_one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("broker-audit: error:"), err
    for word in words:
        assert word in lines[0], err


def pair(tmp_path: Path, conftest: str = f"{PROJECT}/tests/conftest.py") -> tuple[Path, Path]:
    base = make_snapshot(prefix="/proj/.venv", pytest={"conftests": [conftest]})
    target = make_snapshot(
        prefix="/proj/.tox/py",
        origins=[origin("app", f"{PROJECT}/app/__init__.py", in_project=True)],
        pytest={"conftests": []},
    )
    dump_snapshot(base, tmp_path / "b.json")
    dump_snapshot(target, tmp_path / "t.json")
    return tmp_path / "b.json", tmp_path / "t.json"


# --------------------------------------------------------------------------- snapshot files


def test_deeply_nested_json_is_one_line(tmp_path: Path) -> None:
    b, _ = pair(tmp_path)
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")
    code, _, err = cli("diff", b, nested)
    assert_one_line_error(code, err, "nested.json")


def test_nested_value_inside_a_snapshot_is_one_line(tmp_path: Path) -> None:
    b, t = pair(tmp_path)
    data = json.loads(t.read_text(encoding="utf-8"))
    data["meta"]["extra"] = json.loads("[" * 900 + "]" * 900)  # fine for json, deep for us
    deep = "[" * 100_000 + "]" * 100_000
    text = json.dumps(data).replace('"extra": [', f'"extra": [{deep}, ', 1)
    t.write_text(text, encoding="utf-8")
    code, _, err = cli("diff", b, t)
    assert_one_line_error(code, err, "t.json")


def test_five_thousand_digit_schema_version_is_one_line(tmp_path: Path) -> None:
    b, _ = pair(tmp_path)
    huge = tmp_path / "huge.json"
    huge.write_text('{"schema": "tox-broker-audit/snapshot", "schema_version": ' + "9" * 5000 + "}")
    code, _, err = cli("diff", b, huge)
    assert_one_line_error(code, err, "huge.json")
    assert len(err) < 500, err


# --------------------------------------------------------------------------- option values


@pytest.mark.parametrize("command", ["snapshot", "compare"])
def test_timeout_must_be_a_positive_finite_number(tmp_path: Path, command: str) -> None:
    extra = ("--baseline", sys.executable, "--target", sys.executable) if command == "compare" else ()
    code, out, err = cli(command, *extra, "--timeout", "nan", cwd=tmp_path)
    assert_one_line_error(code, err, "--timeout", "'nan'")
    assert not out


@pytest.mark.parametrize("value", ["nan", "inf", "1e400", "-1", "0", "-inf"])
@pytest.mark.parametrize("command", ["snapshot", "compare"])
def test_timeout_values_are_checked_before_anything_runs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    value: str,
) -> None:
    """Every bad value, through ``main`` in this process (the subprocess above shows that the
    real command says the same: one line, exit code 2); nothing is probed first."""
    from tox_broker_audit.cli import main

    monkeypatch.chdir(tmp_path)
    extra = ["--baseline", sys.executable, "--target", sys.executable] if command == "compare" else []
    with pytest.raises(SystemExit) as exc:
        main([command, *extra, "--timeout", value])
    out, err = capsys.readouterr()
    assert_one_line_error(int(str(exc.value.code)), err, "--timeout")  # -inf: "expected one argument"
    assert not out
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- -o


def test_output_onto_a_directory_is_refused(tmp_path: Path) -> None:
    b, t = pair(tmp_path)
    target = tmp_path / "adir"
    target.mkdir()
    code, _, err = cli("diff", b, t, "-o", target)
    assert_one_line_error(code, err, "adir")
    assert target.is_dir()
    assert not any(target.iterdir())


def test_output_under_a_file_is_refused(tmp_path: Path) -> None:
    b, t = pair(tmp_path)
    blocker = tmp_path / "afile"
    blocker.write_text("keep me")
    code, _, err = cli("diff", b, t, "-o", blocker / "report.txt")
    assert_one_line_error(code, err, "afile")
    assert blocker.read_text() == "keep me"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_output_onto_a_fifo_is_refused_and_the_fifo_stays(tmp_path: Path) -> None:
    b, t = pair(tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code, _, err = cli("diff", b, t, "--format", "json", "-o", fifo)
    assert_one_line_error(code, err, "pipe")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_output_onto_a_device_is_refused_and_the_device_stays(tmp_path: Path) -> None:
    device = tmp_path / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (OSError, AttributeError):
        pytest.skip("cannot create a device node here (not root)")
    b, t = pair(tmp_path)
    code, _, err = cli("diff", b, t, "-o", device)
    assert_one_line_error(code, err, "null")
    assert stat.S_ISCHR(device.lstat().st_mode)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_snapshot_output_onto_a_fifo_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "snap.json"
    os.mkfifo(fifo)
    code, _, err = cli("snapshot", "--python", sys.executable, "-o", fifo, cwd=tmp_path)
    assert_one_line_error(code, err, "snap.json")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_snapshot_output_under_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("keep me")
    code, _, err = cli("snapshot", "--python", sys.executable, "-o", blocker / "snap.json", cwd=tmp_path)
    assert_one_line_error(code, err, "afile")
    assert blocker.read_text() == "keep me"


def test_output_replaces_a_regular_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    b, t = pair(tmp_path)
    out = tmp_path / "out" / "report.json"
    out.parent.mkdir()
    out.write_text("old")
    code, _, err = cli("diff", b, t, "--format", "json", "-o", out)
    assert code in (0, 1), err
    assert json.loads(out.read_text(encoding="utf-8"))["schema"] == "tox-broker-audit/report"
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.json"]


# --------------------------------------------------------------------------- text that is not text


def test_surrogate_in_a_path_reaches_sarif_and_json(tmp_path: Path) -> None:
    b, t = pair(tmp_path, conftest=f"{PROJECT}/t\udcffx/conftest.py")
    sarif = tmp_path / "r.sarif"
    code, _, err = cli("diff", b, t, "--format", "sarif", "-o", sarif)
    assert code in (0, 1), err
    assert "Traceback" not in err
    json.loads(sarif.read_bytes().decode("utf-8"))  # valid UTF-8, valid JSON
    for fmt in ("json", "terminal", "markdown", "github"):
        code, out, err = cli("diff", b, t, "--format", fmt, "-v")
        assert code in (0, 1), (fmt, err)
        assert "Traceback" not in err, (fmt, err)
        assert "conftest.py" in out, (fmt, out)


def test_non_utf8_environment_value(tmp_path: Path) -> None:
    """``BAD=$'\\xff'`` in the shell: a snapshot, and a report of it, in every format."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env["LC_ALL"] = "C.UTF-8"
    env_b = {k.encode(): v.encode() for k, v in env.items()}
    env_b[b"BAD_VALUE"] = b"caf\xe9\xff"
    env_b[b"BAD\xffNAME"] = b"x"
    snap = tmp_path / "snap.json"
    proc = run_bytes_env([*CLI, "snapshot", "--python", sys.executable, "-o", str(snap)], tmp_path, env_b)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    b, _ = pair(tmp_path)
    for fmt in ("terminal", "json", "markdown", "sarif", "github"):
        proc = run_bytes_env([*CLI, "diff", str(b), str(snap), "--format", fmt, "-v"], tmp_path, env_b)
        assert proc.returncode in (0, 1), (fmt, proc.stderr)
        assert "Traceback" not in proc.stderr, (fmt, proc.stderr)
        assert "BAD_VALUE" in proc.stdout or fmt in ("sarif", "github"), (fmt, proc.stdout[-2000:])
        proc.stdout.encode("utf-8")  # what it printed is text


def run_bytes_env(cmd: list[str], cwd: Path, env: dict[bytes, bytes]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, errors="strict", timeout=300, check=False
    )
