"""Lint and type checks are part of the test suite, so the README's one test command covers them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from helpers import run

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    exe = BIN / name
    if not exe.exists():  # pragma: no cover - the test extra installs both
        pytest.fail(f"{name} is not installed next to {sys.executable}: install the 'test' extra")
    return str(exe)


def test_ruff_check() -> None:
    proc = run([_tool("ruff"), "check", "src", "tests", "benchmarks"], cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format() -> None:
    proc = run([_tool("ruff"), "format", "--check", "src", "tests", "benchmarks"], cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict() -> None:
    proc = run([_tool("mypy")], cwd=ROOT, check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_probe() -> None:
    """The probe on its own (mypy-probe.ini): top-level modules, as the target imports them."""
    proc = run([_tool("mypy"), "--config-file", "mypy-probe.ini"], cwd=ROOT, check=False, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    # Every probe module was checked, and the configured target was accepted: mypy names a
    # python_version it refuses on stderr and then checks the running Python's instead.
    probe = sorted((ROOT / "src" / "tox_broker_audit" / "probe").glob("_tba_*.py"))
    assert f"no issues found in {len(probe)} source files" in proc.stdout, output
    assert "not supported" not in output, output
