"""The wheel users install: built once from a copy of this checkout, then read as an installer would.

What is expected is computed from the source tree, never listed here: every ``.py`` file under
``src/tox_broker_audit`` (``probe/`` included, whatever its files are called), ``py.typed`` and
every file of the shipped example; nothing of the test suite and no bytecode caches. The copy
keeps the checkout's ``__pycache__`` directories (the package's own exist once the test run has
imported it), so a build that picked them up would fail here.
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from helpers import UV, run

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "tox_broker_audit"
EXAMPLE = PACKAGE / "_example"
#: Not part of a checkout's sources: VCS data, environments, caches and earlier build output.
_NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".tox",
    ".nox",
    "build",
    "dist",
    "*.egg-info",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
)
_CACHE_PARTS = {"__pycache__", ".venv", ".tox", ".nox", ".pytest_cache"}


def _copy(src: str, dst: str) -> None:
    try:
        shutil.copy2(src, dst)
    except FileNotFoundError:  # a .pyc another test's interpreter was just replacing
        if "__pycache__" not in Path(src).parts:
            raise


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    """``uv build --wheel`` from a copy, so the build writes nothing (build/, egg-info) into src/."""
    base = tmp_path_factory.mktemp("wheel")
    checkout = base / "checkout"
    shutil.copytree(ROOT, checkout, ignore=_NOT_SOURCES, symlinks=True, copy_function=_copy)
    run([UV, "build", "-q", "--wheel", "--python", sys.executable, "--out-dir", base / "dist", checkout])
    (built,) = (base / "dist").glob("*.whl")
    with zipfile.ZipFile(built) as archive:
        yield archive


def _in_wheel(path: Path) -> str:
    return "tox_broker_audit/" + path.relative_to(PACKAGE).as_posix()


def _sources(root: Path, pattern: str) -> set[str]:
    return {
        _in_wheel(p)
        for p in root.rglob(pattern)
        if p.is_file() and not _CACHE_PARTS.intersection(p.relative_to(root).parts)
    }


def test_every_module_and_py_typed_are_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    expected = _sources(PACKAGE, "*.py") | {
        _in_wheel(PACKAGE / p) for p in ("py.typed", "report.schema.json")
    }
    assert "tox_broker_audit/__init__.py" in expected
    assert any(name.startswith("tox_broker_audit/probe/") for name in expected), "no probe/ sources found"
    missing = sorted(expected - set(wheel.namelist()))
    assert not missing, f"missing from the wheel: {missing}"


def test_the_shipped_example_is_complete(wheel: zipfile.ZipFile) -> None:
    expected = _sources(EXAMPLE, "*")
    assert any(name.endswith("/tox.ini") for name in expected), f"no example found under {EXAMPLE}"
    missing = sorted(expected - set(wheel.namelist()))
    assert not missing, f"missing from the wheel: {missing}"


def test_no_tests_and_no_bytecode(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    top = {name.split("/", 1)[0] for name in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert len(dist_info) == 1, top
    assert top == {"tox_broker_audit", *dist_info}, f"unexpected top-level entries: {sorted(top)}"
    outside_example = [n for n in names if not n.startswith("tox_broker_audit/_example/")]
    assert not [n for n in outside_example if "tests" in n.split("/")], "the test suite is in the wheel"
    cached = [n for n in names if "__pycache__" in n.split("/") or n.endswith((".pyc", ".pyo"))]
    assert not cached, f"bytecode caches in the wheel: {cached}"


def test_entry_points_are_declared(wheel: zipfile.ZipFile) -> None:
    (dist_info,) = {n.split("/", 1)[0] for n in wheel.namelist() if n.split("/", 1)[0].endswith(".dist-info")}
    # Read entry_points.txt as the installed package's metadata is read, straight from the zip.
    dist = metadata.PathDistribution(zipfile.Path(wheel, f"{dist_info}/"))  # type: ignore[arg-type]
    declared = {(ep.group, ep.name): ep for ep in dist.entry_points}
    names = set(wheel.namelist())
    for group, name in [
        ("console_scripts", "broker-audit"),
        ("tox", "broker_audit"),
        ("pytest11", "broker_audit"),
    ]:
        assert (group, name) in declared, f"[{group}] {name} is not in entry_points.txt: {sorted(declared)}"
        module = declared[group, name].module.replace(".", "/")
        assert {f"{module}.py", f"{module}/__init__.py"} & names, (
            f"{declared[group, name]}: module not in the wheel"
        )
