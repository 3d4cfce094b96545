"""Reference snapshots, the CI baseline choice, dependency lines and job summaries (fast, real files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from _snapshot_factory import make_snapshot
from tox_broker_audit._audit import capture, take_baseline
from tox_broker_audit._ci import detected_ci
from tox_broker_audit._errors import AuditError, NothingToCompareError
from tox_broker_audit._job_summary import GITHUB_LIMIT, publish, truncate
from tox_broker_audit._tox.deps import dependency_lines
from tox_broker_audit.snapshot.baseline import NoBaseline, ReferenceDirBaseline, plan_baseline
from tox_broker_audit.snapshot.io import load_snapshot
from tox_broker_audit.snapshot.reference import load_reference, save_reference


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"GITHUB_ACTIONS": "true"}, "GITHUB_ACTIONS"),
        ({"GITLAB_CI": "true"}, "GITLAB_CI"),
        ({"TF_BUILD": "True"}, "TF_BUILD"),
        ({"CI": "1"}, "CI"),
        ({"CI": "false"}, None),
        ({}, None),
    ],
)
def test_detected_ci(environ: dict[str, str], expected: str | None) -> None:
    assert detected_ci(environ) == expected


def test_in_ci_without_a_developer_env_auto_compares_with_nothing(tmp_path: Path) -> None:
    plan = plan_baseline(
        "auto", tox_root=tmp_path, work_dir=tmp_path / ".tox", environ={"CI": "true", "PATH": ""}
    )
    assert isinstance(plan, NoBaseline)
    assert not plan.failure
    assert plan.why.startswith("no reference to compare with ($CI is set, no developer env)")
    with pytest.raises(NothingToCompareError):
        take_baseline(plan, tmp_path, b"k" * 32)
    captured = capture("py", lambda: make_snapshot(), lambda: take_baseline(plan, tmp_path, b""))
    assert captured.baseline is None
    assert captured.failures == ()  # on purpose: no BA901 warning, one line
    assert captured.lines == (f"broker-audit: py: {plan.why}",)


def test_a_reference_directory_per_env(tmp_path: Path) -> None:
    directory = tmp_path / "ci" / "broker-audit"
    plan = plan_baseline(
        "ci/broker-audit", tox_root=tmp_path, work_dir=tmp_path / ".tox", environ={}, base=tmp_path
    )
    assert isinstance(plan, ReferenceDirBaseline)
    assert plan.directory == directory  # not created yet: still a reference directory
    with pytest.raises(NothingToCompareError, match=r"ci/broker-audit/py\.json does not exist"):
        take_baseline(plan, tmp_path, b"", env_name="py")
    saved = save_reference(make_snapshot(source_kind="tox-env"), directory, "py")
    assert saved == directory / "py.json"
    assert load_snapshot(saved).meta.source.kind == "tox-env"  # the file says what it was
    loaded = take_baseline(plan, tmp_path, b"", env_name="py")
    assert loaded.meta.source.kind == "reference"
    assert loaded.meta.source.description.startswith("the reference ci/broker-audit/py.json (saved ")
    assert load_reference(directory, "py", tmp_path).meta.source.name == "ci/broker-audit/py.json"


def test_a_venv_directory_is_no_reference_directory(tmp_path: Path) -> None:
    (tmp_path / "pyvenv.cfg").write_text("home = /usr/bin\n")
    with pytest.raises(AuditError):
        plan_baseline(str(tmp_path), tox_root=tmp_path, work_dir=tmp_path / ".tox", environ={})
    with pytest.raises(AuditError, match="not found"):  # a mistyped interpreter path says so
        plan_baseline(str(tmp_path / "bin" / "python3"), tox_root=tmp_path, work_dir=tmp_path, environ={})


def test_dependency_lines_in_every_place_a_dependency_is_declared(tmp_path: Path) -> None:
    (tmp_path / "tox.ini").write_text(
        "[tox]\nenv_list = py\n\n[testenv]\ndeps =\n    pytest>=8\n    -r requirements.txt\n"
        "commands = pytest\n\n[testenv:py]\ndeps =\n    pytest-randomly  # shuffles\n"
    )
    (tmp_path / "requirements.txt").write_text("# pinned\nrequests==2.32.0\n")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = [\n  "dramatiq[rabbitmq]>=1.16",\n]\n'
        '[project.optional-dependencies]\ntest = ["pytest-cov", "Hypothesis"]\n'
    )
    found = {
        name: (Path(loc.path).name, loc.line)
        for name, loc in dependency_lines(tmp_path / "tox.ini", tmp_path, "py").items()
    }
    assert found == {
        "pytest": ("tox.ini", 6),
        "requests": ("requirements.txt", 2),
        "pytest-randomly": ("tox.ini", 12),
        "dramatiq": ("pyproject.toml", 4),
        "pytest-cov": ("pyproject.toml", 7),
        "hypothesis": ("pyproject.toml", 7),
    }


def test_dependency_lines_in_toml_configs(tmp_path: Path) -> None:
    (tmp_path / "tox.toml").write_text(
        '[env_run_base]\ndeps = [\n  "pytest",\n]\n[env.py]\ndeps = ["pytest-randomly", "pytest"]\n'
    )
    found = {name: loc.line for name, loc in dependency_lines(tmp_path / "tox.toml", tmp_path, "py").items()}
    assert found == {"pytest-randomly": 6, "pytest": 6}  # the env's own section first


def test_step_summary_is_appended(tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    report.write_text("## Broker audit: py\n\nall good\n")
    summary = tmp_path / "summary.md"
    summary.write_text("## tests\n")
    assert publish({"GITHUB_STEP_SUMMARY": str(summary)}, report) == []
    assert summary.read_text() == "## tests\n\n## Broker audit: py\n\nall good\n"


def test_step_summary_stays_within_githubs_limit(tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    report.write_text("".join(f"- line {i}\n" for i in range(200_000)))  # ~2.3 MB
    summary = tmp_path / "summary.md"
    summary.write_text("x" * 1000 + "\n")
    assert publish({"GITHUB_STEP_SUMMARY": str(summary)}, report) == []
    data = summary.read_bytes()
    assert len(data) <= GITHUB_LIMIT
    assert data.rstrip().endswith(f"see {report}".encode())
    assert b"\n- line 5\n" in data
    # the step's budget is spent: the next env says so in one line and writes nothing
    assert publish({"GITHUB_STEP_SUMMARY": str(summary)}, report) == [
        f"broker-audit: the step summary is full (1 MiB); the report is in {report}"
    ]
    assert summary.read_bytes() == data


def test_truncate_cuts_at_a_line_and_counts_bytes() -> None:
    assert truncate("é\n" * 10, 100, "!") == "é\n" * 10
    cut = truncate("éé\n" * 10, 12, "[cut]")
    assert cut == "éé\n[cut]"
    assert len(cut.encode()) <= 12


def test_azure_gets_the_summary_upload_command(tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    report.write_text("## Broker audit\n")
    assert publish({"TF_BUILD": "True"}, report) == [f"##vso[task.uploadsummary]{report}"]
    assert publish({}, report) == []
