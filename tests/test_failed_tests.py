"""Which tests failed in the run tox just did (``verify/failed.py``), on files real pytest runs wrote.

Every case runs real pytest (``python -m pytest``, plugin autoload off: only pytest's own cache
provider and junit writer matter) in a small project under ``tmp_path`` and reads back what that
run left behind: ``<cache_dir>/v/cache/lastfailed`` and the junit XML report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers import write_tree
from tox_broker_audit.verify.failed import FailedTests, failed_tests

API = """
    import pytest

    def test_ok():
        pass

    @pytest.mark.parametrize("n", [1, 2])
    def test_param(n):
        assert n == 1

    class TestThing:
        def test_method(self):
            assert False
"""
FAILED = ("tests/test_api.py::test_param[2]", "tests/test_api.py::TestThing::test_method")
_ENV = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
_ENV["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"


def _project(tmp_path: Path, ini: str = "pytest.ini", text: str = "[pytest]\n", **files: str) -> Path:
    project = tmp_path / "project"
    return write_tree(project, {ini: text, "tests/test_api.py": API, **files})


def _pytest(project: Path, *args: str, cwd: Path | None = None, **env: str) -> float:
    """Run real pytest with ``args``; the time just before it started (a ``since``)."""
    since = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *args],
        cwd=cwd or project,
        env={**_ENV, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode in (1, 2), proc.stdout + proc.stderr  # tests failed / collection interrupted
    return since


def _lastfailed(project: Path, cache: str = ".pytest_cache") -> str:
    return str(project / cache / "v" / "cache" / "lastfailed")


def test_the_default_cache_dir(tmp_path: Path) -> None:
    project = _project(tmp_path)
    since = _pytest(project, "tests")
    found = failed_tests(str(project), ["tests"], inifile=str(project / "pytest.ini"), since=since)
    assert found == FailedTests(FAILED, "lastfailed", _lastfailed(project), 2)


def test_cache_dir_from_the_command_line_last_wins_and_expands_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path)
    monkeypatch.setenv("TBA_CACHE", "build")
    args = ["-o", "cache_dir=first", "--override-ini=cache_dir=second", "-ocache_dir=$TBA_CACHE/c", "tests"]
    since = _pytest(project, *args, TBA_CACHE="build")
    assert not (project / ".pytest_cache").exists()
    assert not (project / "first").exists()
    assert not (project / "second").exists()
    found = failed_tests(str(project), args, inifile=str(project / "pytest.ini"), since=since)
    assert found == FailedTests(FAILED, "lastfailed", _lastfailed(project, "build/c"), 2)


_INI_FILES = {
    "tox.ini": ("tox.ini", "[tox]\nenv_list = py\n\n[pytest]\ncache_dir = .cache/from-tox-ini\n"),
    "setup.cfg": ("setup.cfg", "[tool:pytest]\ncache_dir = .cache/from-setup-cfg\n"),
    "pyproject-ini-options": (
        "pyproject.toml",
        '[project]\nname = "x"\n\n[tool.pytest.ini_options]\ncache_dir = ".cache/from-ini-options"\n',
    ),
}
if int(pytest.__version__.split(".")[0]) >= 9:  # pytest 9: native TOML configuration
    _INI_FILES["pyproject-native"] = ("pyproject.toml", '[tool.pytest]\ncache_dir = ".cache/from-native"\n')
    _INI_FILES["pytest.toml"] = ("pytest.toml", '[pytest]\ncache_dir = ".cache/from-pytest-toml"\n')


@pytest.mark.parametrize("case", sorted(_INI_FILES))
def test_cache_dir_from_the_ini_file(tmp_path: Path, case: str) -> None:
    name, text = _INI_FILES[case]
    project = _project(tmp_path, name, text)
    since = _pytest(project, "tests")
    cache = text.split("cache_dir = ")[1].split("\n")[0].strip('"')
    assert Path(_lastfailed(project, cache)).is_file()
    assert not (project / ".pytest_cache").exists()
    found = failed_tests(str(project), ["tests"], inifile=str(project / name), since=since)
    assert found == FailedTests(FAILED, "lastfailed", _lastfailed(project, cache), 2)


def test_options_from_the_ini_files_addopts(tmp_path: Path) -> None:
    project = _project(
        tmp_path, "tox.ini", "[pytest]\naddopts = -p no:cacheprovider --junitxml=from-ini.xml\n"
    )
    since = _pytest(project, "tests")
    assert not (project / ".pytest_cache").exists()
    found = failed_tests(str(project), ["tests"], inifile=str(project / "tox.ini"), since=since)
    assert found == FailedTests(FAILED, "junit", str(project / "from-ini.xml"), 2)


def test_no_cacheprovider_means_no_lastfailed_even_a_stale_one(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _pytest(project, "tests")  # an earlier run with the cache
    args = ["tests", "-p", "no:cacheprovider"]
    _pytest(project, *args)
    assert failed_tests(str(project), args, inifile=None, since=None) == FailedTests((), "")
    assert failed_tests(str(project), ["-pno:cacheprovider"], inifile=None, since=None) == FailedTests((), "")
    blocked = ["-p", "no:cacheprovider", "-p", "no:doctest"]
    assert failed_tests(str(project), blocked, inifile=None, since=None) == FailedTests((), "")
    unblocked = [*blocked, "-p", "cacheprovider"]
    assert failed_tests(str(project), unblocked, inifile=None, since=None).source == "lastfailed"


def _cases(report: Path) -> list[dict[str, str]]:
    return [case.attrib for case in ET.parse(report).getroot().iter("testcase")]


def test_junit_without_a_file_attribute_pytests_default(tmp_path: Path) -> None:
    project = _project(tmp_path)
    args = ["tests", "--junitxml=reports/out.xml", "-p", "no:cacheprovider"]
    since = _pytest(project, *args)
    report = project / "reports" / "out.xml"
    assert all("file" not in case for case in _cases(report))  # xunit2, pytest's default: no file
    found = failed_tests(str(project), args, inifile=None, since=since)
    assert found == FailedTests(FAILED, "junit", str(report), 2)
    # --junit-xml PATH, relative to the command's cwd
    args = ["test_api.py", "--junit-xml", "../sub.xml", "-p", "no:cacheprovider"]
    since = _pytest(project, *args, cwd=project / "tests")
    found = failed_tests(str(project), args, inifile=None, since=since, cwd=str(project / "tests"))
    assert found == FailedTests(FAILED, "junit", str(project / "sub.xml"), 2)


def test_junit_with_a_file_attribute_xunit1(tmp_path: Path) -> None:
    project = _project(tmp_path)
    args = ["tests", "-o", "junit_family=xunit1", "--junitxml=out.xml", "--junit-prefix=pre.fix"]
    since = _pytest(project, *args)
    cases = _cases(project / "out.xml")
    assert {case["file"] for case in cases} == {"tests/test_api.py"}
    assert {case["classname"] for case in cases} == {
        "pre.fix.tests.test_api",
        "pre.fix.tests.test_api.TestThing",
    }
    found = failed_tests(str(project), args, inifile=None, since=since)
    assert found == FailedTests(FAILED, "junit", str(project / "out.xml"), 2)


def test_junits_file_is_where_the_test_is_defined_not_always_the_node_ids_file(tmp_path: Path) -> None:
    project = _project(
        tmp_path,
        **{
            "tests/__init__.py": "",
            "tests/helpers.py": "def test_shared():\n    assert 0\n",
            "tests/test_imp.py": "from tests.helpers import test_shared\n",
        },
    )
    args = ["tests/test_imp.py", "-o", "junit_family=xunit1", "--junitxml=out.xml"]
    since = _pytest(project, *args)
    assert [case["file"] for case in _cases(project / "out.xml")] == ["tests/helpers.py"]
    found = failed_tests(str(project), args, inifile=None, since=since)
    assert found.nodeids == ("tests/test_imp.py::test_shared",)


def test_junit_is_preferred_when_fresh_else_lastfailed(tmp_path: Path) -> None:
    project = _project(tmp_path, **{"tests/test_more.py": "def test_more():\n    assert 0\n"})
    _pytest(project, "tests", "--junitxml=out.xml")
    since = _pytest(project, "tests/test_api.py")  # this run wrote no report: out.xml is stale
    found = failed_tests(str(project), ["tests/test_api.py", "--junitxml=out.xml"], inifile=None, since=since)
    assert found == FailedTests(FAILED, "lastfailed", _lastfailed(project), 2)
    assert failed_tests(str(project), ["--junitxml=out.xml"], inifile=None, since=None).source == "junit"


def test_a_stale_file_is_not_this_runs(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _pytest(project, "tests", "--junitxml=out.xml")
    later = time.time() + 60
    found = failed_tests(str(project), ["tests", "--junitxml=out.xml"], inifile=None, since=later)
    assert found == FailedTests((), "")


def test_a_run_failing_as_the_last_one_did_leaves_lastfailed_untouched_but_counts(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _pytest(project, "tests")
    time.sleep(0.05)
    since = _pytest(project, "tests")
    assert os.stat(_lastfailed(project)).st_mtime < since  # pytest rewrites it only when it changed
    found = failed_tests(str(project), ["tests"], inifile=None, since=since)
    assert found == FailedTests(FAILED, "lastfailed", _lastfailed(project), 2)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '"x"', "", "\udcff"])
def test_a_corrupt_lastfailed_is_none_found(tmp_path: Path, text: str) -> None:
    project = _project(tmp_path)
    _pytest(project, "tests")
    Path(_lastfailed(project)).write_bytes(text.encode("utf-8", "surrogateescape"))
    assert failed_tests(str(project), ["tests"], inifile=None, since=None) == FailedTests((), "")


def test_a_corrupt_junit_falls_back_to_lastfailed(tmp_path: Path) -> None:
    project = _project(tmp_path)
    args = ["tests", "--junitxml=out.xml"]
    since = _pytest(project, *args)
    (project / "out.xml").write_text("<testsuites><testcase", encoding="utf-8")
    found = failed_tests(str(project), args, inifile=None, since=since)
    assert found == FailedTests(FAILED, "lastfailed", _lastfailed(project), 2)


def test_limit_and_total(tmp_path: Path) -> None:
    project = _project(tmp_path)
    since = _pytest(project, "tests", "--junitxml=out.xml")
    one = failed_tests(str(project), ["--junitxml=out.xml"], inifile=None, since=since, limit=1)
    assert one == FailedTests(FAILED[:1], "junit", str(project / "out.xml"), 2)
    assert failed_tests(str(project), [], inifile=None, since=since, limit=1).total == 2


def _two_suites(tmp_path: Path, ini: str = "[pytest]\n") -> Path:
    return write_tree(
        tmp_path / "project",
        {
            "pytest.ini": ini,
            "tests/unit/test_u.py": "def test_u():\n    assert 0\n",
            "tests/integration/test_i.py": "def test_i():\n    assert 0\n",
        },
    )


UNIT = ("tests/unit/test_u.py::test_u",)
BOTH = ("tests/unit/test_u.py::test_u", "tests/integration/test_i.py::test_i")


def test_lastfailed_is_kept_to_what_the_command_selected(tmp_path: Path) -> None:
    project = _two_suites(tmp_path)
    _pytest(project)  # an earlier run of everything
    since = _pytest(project, "tests/unit")

    def ids(args: list[str], cwd: Path = project) -> tuple[str, ...]:
        return failed_tests(str(project), args, inifile=None, since=since, cwd=str(cwd)).nodeids

    assert set(ids([])) == set(BOTH)  # pytest kept test_i, which this run did not run
    assert ids(["tests/unit"]) == UNIT
    assert ids(["-x", "tests/unit/test_u.py::test_u"]) == UNIT
    assert ids(["unit"], cwd=project / "tests") == UNIT
    assert ids([], cwd=project / "tests" / "unit") == UNIT
    # An option's value that names a path is not a selection.
    assert set(ids(["-k", "tests"])) == set(BOTH)


def test_lastfailed_is_kept_to_testpaths_when_the_command_names_none(tmp_path: Path) -> None:
    project = _two_suites(tmp_path)
    _pytest(project)
    (project / "pytest.ini").write_text("[pytest]\ntestpaths = tests/u*\n", encoding="utf-8")
    since = _pytest(project)
    found = failed_tests(str(project), [], inifile=str(project / "pytest.ini"), since=since)
    assert found.nodeids == UNIT


def test_collection_errors_whole_files_and_deleted_files(tmp_path: Path) -> None:
    project = _project(tmp_path, **{"tests/test_gone.py": "def test_gone():\n    assert 0\n"})
    _pytest(project, "tests")
    (project / "tests" / "test_gone.py").unlink()
    (project / "tests" / "test_bad.py").write_text("import not_installed_anywhere\n", encoding="utf-8")
    args = ["tests", "--junitxml=out.xml"]
    since = _pytest(project, *args)  # interrupted: one error during collection, no test ran
    junit = failed_tests(str(project), args, inifile=None, since=since)
    assert junit == FailedTests(("tests/test_bad.py",), "junit", str(project / "out.xml"), 1)
    # lastfailed keeps the earlier run's failures (documented); the deleted file's test is dropped.
    cached = failed_tests(str(project), ["tests"], inifile=None, since=since)
    assert cached.nodeids == (*FAILED, "tests/test_bad.py")


@pytest.mark.parametrize(
    ("rootdir", "args", "inifile"),
    [
        ("/nonexistent/x", ["tests"], None),
        (".", ["tests\0", "--junitxml=\0"], None),
        (".", ["-o"], "missing.ini"),
        (".", ["--junitxml"], "broken.toml"),
        (".", ["--", "-p", "no:cacheprovider"], "pyproject.toml"),
    ],
)
def test_bad_input_is_none_found(tmp_path: Path, rootdir: str, args: list[str], inifile: str | None) -> None:
    (tmp_path / "broken.toml").write_text("[pytest\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text('[tool]\npytest = "not a table"\n', encoding="utf-8")
    root = str(tmp_path / rootdir)
    found = failed_tests(root, args, inifile=inifile and str(tmp_path / inifile), since=None)
    assert found == FailedTests((), "")
