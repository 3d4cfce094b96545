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
