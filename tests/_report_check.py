"""A pytest plugin: every report.json the suite writes follows the shipped schema.

After each test that used ``tmp_path`` (or ``pytester``), the files named ``report.json``
under it are validated against ``tox_broker_audit/report.schema.json``; a violation fails
that test. Reports written into directories shared by several tests (module- or session-scoped
``tmp_path_factory`` directories) are caught by a last scan of the run's base temporary
directory when the session's fixtures are torn down (each xdist worker scans its own).

Cheap: nothing happens for a test without a temporary directory, and the walk skips installed
packages (``site-packages``) and bytecode caches, where no report is written. A test that must
write an invalid report on purpose names the file otherwise.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from _schemas import report_errors

__all__ = ["find_reports", "report_problems"]

_SKIP = frozenset({"site-packages", "dist-packages", "__pycache__", ".git", "node_modules"})
_CHECKED = pytest.StashKey[set[Path]]()


def find_reports(root: Path) -> Iterator[Path]:
    """Every ``report.json`` under ``root`` (not into installed packages, not via symlinks)."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP]
        if "report.json" in files:
            yield Path(folder, "report.json")


def report_problems(path: Path) -> list[str]:
    """Why the report at ``path`` breaks the contract (empty: it follows the schema)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return [f"not readable as JSON: {exc}"]
    return report_errors(data)


def _check(roots: list[Path], checked: set[Path]) -> list[str]:
    failures = []
    for root in roots:
        for path in find_reports(root):
            resolved = path.resolve()
            if resolved in checked:
                continue
            checked.add(resolved)
            failures.extend(f"{path}: {problem}" for problem in report_problems(path))
    return failures


def _roots(item: pytest.Item) -> list[Path]:
    funcargs = getattr(item, "funcargs", {})
    roots = [funcargs.get("tmp_path"), getattr(funcargs.get("pytester"), "path", None)]
    return [root for root in roots if isinstance(root, Path) and root.is_dir()]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """The test passed so far: the reports it wrote must follow the schema too."""
    result = yield
    roots = _roots(item)
    if roots:
        failures = _check(roots, item.config.stash.setdefault(_CHECKED, set()))
        if failures:
            pytest.fail("report.json breaks its schema:\n" + "\n".join(failures), pytrace=False)
    return result


@pytest.fixture(scope="session", autouse=True)
def _every_report_follows_the_schema(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """At the end of the session: the reports no single test's ``tmp_path`` held."""
    yield
    failures = _check([tmp_path_factory.getbasetemp()], request.config.stash.setdefault(_CHECKED, set()))
    if failures:
        pytest.fail("report.json breaks its schema:\n" + "\n".join(failures), pytrace=False)
