"""Test-suite wide fixtures. ``tests/`` is on sys.path (rootdir conftest), so ``helpers`` imports."""

from __future__ import annotations

pytest_plugins = ["pytester"]
