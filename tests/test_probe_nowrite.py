"""The probe's no-write layer on its own (``probe/_tba_nowrite.py``); the real-tox proof is
``tests/test_no_writes.py``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tox_broker_audit._command import selection_args
from tox_broker_audit.probe._tba_nowrite import PAD, ArgScrubber, scrub


@pytest.mark.parametrize(
    ("args", "kept"),
    [
        (["--junitxml=r.xml", "tests"], ["tests"]),
        (["--junitxml", "r.xml", "tests"], ["tests"]),
        (["--junit-xml", "r.xml", "-q"], ["-q"]),
        (["--cov", "--cov-report=xml", "tests"], ["tests"]),
        (["--cov", "pkg", "-x"], ["-x"]),
        (["--cov=pkg", "--cov-append", "--cov-branch", "-k", "x"], ["-k", "x"]),
        (["--html", "report.html", "--self-contained-html"], []),
        (["--log-file=run.log", "--log-file-level", "INFO", "-v"], ["-v"]),
        (["--benchmark-autosave", "--benchmark-json", "b.json", "--benchmark-storage=x"], []),
        (["--basetemp", "tmp", "--report-log=r.jsonl", "--result-log", "r.log"], []),
        (["--", "--junitxml=r.xml"], ["--", "--junitxml=r.xml"]),  # after --: test paths
    ],
)
def test_scrub_drops_every_output_option(args: list[str], kept: list[str]) -> None:
    assert scrub(args) == kept


class _Option:
    def __init__(self, *names: str) -> None:
        self._names = names

    def names(self) -> tuple[str, ...]:
        return self._names


class _Group:
    def __init__(self, *options: _Option) -> None:
        self.options = options


class _Parser:
    """pytest's Parser shape (``_groups`` of ``options`` with ``names()``), with what it knows."""

    def __init__(self, *names: str) -> None:
        self._groups = [_Group(*(_Option(n) for n in names))]


def test_scrubber_adds_only_the_neutral_options_the_plugins_know(tmp_path: Path) -> None:
    args = ["tests", "--junitxml=r.xml", "--cov=pkg"]
    scrubber = ArgScrubber(args, str(tmp_path))
    scrubber.apply()
    # No parser yet: nothing added that pytest might not know. The list never gets shorter
    # (pytest may be looping over it): what was taken out is a no-op ``-p no:`` pad.
    assert args == ["tests", PAD, PAD]
    scrubber.parser = _Parser("--log-file", "--basetemp", "--no-cov")
    args[:0] = ["--html=x.html"]  # addopts put in front, as pytest does
    scrubber.apply()
    assert [arg for arg in args if arg != PAD] == [
        "tests",
        "--no-cov",
        f"--log-file={tmp_path / 'pytest.log'}",
        f"--basetemp={tmp_path / 'basetemp'}",
    ]
    assert len(args) >= 4
    scrubber.apply()  # idempotent
    assert args.count("--no-cov") == 1


def test_the_pads_go_before_a_double_dash(tmp_path: Path) -> None:
    args = ["--junitxml=r.xml", "--", "tests/test_x.py"]
    ArgScrubber(args, str(tmp_path)).apply()
    assert args == [PAD, "--", "tests/test_x.py"]


def test_output_file_values_are_not_test_paths(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "r.html").write_text("old report")
    (tmp_path / "tests").mkdir()
    args = ["--html", "reports/r.html", "--junit-xml", "reports/r.html", "tests"]
    assert selection_args(args, str(tmp_path)) == (os.path.join(str(tmp_path), "tests"),)


GUARD_SCRIPT = """
import os, shutil, sys
sys.path.insert(0, sys.argv[1])
import _tba_nowrite

proj, work = sys.argv[2], sys.argv[3]
said = []
_tba_nowrite.install_write_guard([proj], [work], said.append)
os.chdir(proj)


def attempt(name, action):
    try:
        action()
        print(name, "done")
    except PermissionError:
        print(name, "refused")


attempt("write", lambda: open("out.xml", "w").close())
attempt("append-abs", lambda: open(os.path.join(proj, "data.txt"), "a").close())
attempt("read", lambda: open("data.txt").read())
attempt("mkdir", lambda: os.mkdir(".benchmarks"))
attempt("remove", lambda: os.remove("data.txt"))
attempt("work-tree", lambda: (os.makedirs(os.path.join(work, "a", "b")), shutil.rmtree(work + "/a")))
print("said", len(said))
"""


def test_write_guard_refuses_writes_under_the_project_only(tmp_path: Path) -> None:
    """In a subprocess: an audit hook cannot be removed again."""
    import sys

    from helpers import run
    from tox_broker_audit.snapshot.capture import PROBE_SCRIPT

    proj, work = tmp_path / "proj", tmp_path / "work"
    proj.mkdir()
    work.mkdir()
    (proj / "data.txt").write_text("keep")
    script = tmp_path / "guard.py"
    script.write_text(GUARD_SCRIPT)
    out = run([sys.executable, script, PROBE_SCRIPT.parent, proj, work]).stdout.splitlines()
    assert out == [
        "write refused",
        "append-abs refused",
        "read done",
        "mkdir refused",
        "remove refused",
        "work-tree done",
        "said 3",  # one report per path
    ]
    assert sorted(p.name for p in proj.iterdir()) == ["data.txt"]
    assert (proj / "data.txt").read_text() == "keep"
