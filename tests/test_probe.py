"""The probe against real virtual environments (virtualenv and pip-less ``uv venv``).

Each test states one concrete fact a snapshot must report, on a venv built in the test.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from helpers import CLI, bin_dir, install, make_venv, run, write_tree
from tox_broker_audit._errors import ProbeError
from tox_broker_audit.snapshot.capture import ProbeRequest, take_snapshot
from tox_broker_audit.snapshot.io import snapshot_to_dict
from tox_broker_audit.snapshot.model import Snapshot, Source

pytestmark = pytest.mark.slow

PROJECT = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "ledger-app"
        version = "1.0"

        [tool.setuptools]
        packages = ["ledger"]

        [tool.pytest.ini_options]
        testpaths = ["tests"]
    """,
    "ledger/__init__.py": "",
    "ledger/settings.py": """
        import os
        TESTING = os.getenv("LEDGER_TESTING") == "1"
    """,
    "tests/conftest.py": """
        import json
        import os
        import sys

        FLAG = os.getenv("LEDGER_FLAG")


        def pytest_collection_finish(session):
            out = os.environ.get("DUMP_SYS_PATH")
            if out:
                with open(out, "w") as fh:
                    json.dump(sys.path, fh)
    """,
    "tests/test_ledger.py": """
        import ledger.settings

        def test_ok():
            assert True
    """,
}

PLUGIN_DIST = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "early-plugin"
        version = "0.3"

        [project.entry-points.pytest11]
        early = "early_plugin"

        [tool.setuptools]
        py-modules = ["early_plugin"]
    """,
    "early_plugin.py": """
        import os
        MODE = os.environ.get("EARLY_MODE", "off")
    """,
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(tmp_path_factory.mktemp("proj") / "ledger-app", PROJECT)


@pytest.fixture(scope="module")
def venv_virtualenv(tmp_path_factory: pytest.TempPathFactory, project: Path) -> Path:
    """A developer's venv: virtualenv, pytest, the project editable, a pytest11 plugin."""
    root = tmp_path_factory.mktemp("venvs")
    plugin = write_tree(root / "early-plugin", PLUGIN_DIST)
    venv = root / "dev"
    python = make_venv(venv, creator="virtualenv")
    install(python, "pytest", str(plugin), editable=project)
    return venv


@pytest.fixture(scope="module")
def venv_uv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pip-less env made by ``uv venv`` with only pytest."""
    venv = tmp_path_factory.mktemp("uvvenv") / "env"
    python = make_venv(venv, creator="uv")
    install(python, "pytest")
    return venv


def snap(venv: Path, cwd: Path, *, invocation: str = "pytest", env: dict[str, str] | None = None) -> Snapshot:
    return take_snapshot(
        ProbeRequest(
            python=str(venv),
            cwd=cwd,
            env=env,
            invocation=invocation,  # type: ignore[arg-type]
            source=Source(kind="cli", name="test"),
            timeout=120,
        )
    )


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "VIRTUAL_ENV"))}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def test_editable_install_is_reported_with_its_source(venv_virtualenv: Path, project: Path) -> None:
    snapshot = snap(venv_virtualenv, project, env=base_env())
    dists = {d.name: d for d in snapshot.distributions}
    app = dists["ledger-app"]
    assert app.editable is True
    assert app.source_path is not None
    assert Path(app.source_path).resolve() == project.resolve()
    assert dists["pytest"].editable is False
    assert dists["early-plugin"].editable is False
    assert snapshot.interpreter.venv_creator == "virtualenv"
    assert snapshot.pytest.collected == 1


def test_uv_venv_without_pip(venv_uv: Path, project: Path) -> None:
    assert not (bin_dir(venv_uv) / "pip").exists()
    snapshot = snap(venv_uv, project, env=base_env())
    names = {d.name for d in snapshot.distributions}
    assert "pip" not in names
    assert "pytest" in names
    assert snapshot.interpreter.venv_creator == "uv"
    assert {d.installer for d in snapshot.distributions} == {"uv"}
    # ledger is not installed in this env: collection fails, and the snapshot says so.
    assert snapshot.pytest.collection_errors
    assert "ledger" in snapshot.pytest.collection_errors[0].message


def test_pth_import_line_is_executable_and_unknown(tmp_path: Path, project: Path) -> None:
    venv = tmp_path / "env"
    python = make_venv(venv, creator="uv")
    install(python, "pytest")
    site = Path(
        run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    )
    (site / "zz_boot.py").write_text("import os\nBOOT = os.environ.get('BOOT_LEVEL')\n")
    (site / "zz_boot.pth").write_text("# boot the app early\nimport zz_boot\n")
    snapshot = snap(venv, project, env=base_env())
    pth = {p.name: p for p in snapshot.startup.pth_files}["zz_boot.pth"]
    assert pth.exec_lines == ("import zz_boot",)
    assert pth.known is None
    assert "zz_boot" in pth.imported
    started = {m.name: m for m in snapshot.startup.modules}
    assert started["zz_boot"].by == str(site / "zz_boot.pth")
    reads = [r for r in snapshot.environ.reads if r.name == "BOOT_LEVEL"]
    assert reads
    assert reads[0].phase == "startup"
    assert reads[0].file == str(site / "zz_boot.py")
    assert reads[0].line == 2
    # virtualenv's own .pth is known noise; uv's venv has one too.
    assert all(p.known == "virtualenv" for p in snapshot.startup.pth_files if p.name == "_virtualenv.pth")


def test_sitecustomize_in_the_venv_is_found(tmp_path: Path, project: Path) -> None:
    venv = tmp_path / "env"
    python = make_venv(venv, creator="virtualenv")
    install(python, "pytest")
    site = Path(
        run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    )
    custom = site / "sitecustomize.py"
    custom.write_text("import os\nos.environ.setdefault('LEDGER_TESTING', '1')\n")
    snapshot = snap(venv, project, env=base_env())
    sc = snapshot.startup.sitecustomize
    assert sc is not None
    assert sc.path == str(custom)
    assert sc.sha256 is not None
    assert len(sc.sha256) == 64
    setdefault = [r for r in snapshot.environ.reads if r.name == "LEDGER_TESTING" and r.how == "setdefault"]
    assert setdefault
    assert setdefault[0].file == str(custom)
    assert setdefault[0].phase == "startup"
    # ... and the write itself is recorded, with the value it set.
    writes = [w for w in snapshot.environ.writes if w.name == "LEDGER_TESTING"]
    assert len(writes) == 1
    assert (writes[0].how, writes[0].value, writes[0].file, writes[0].line) == (
        "setdefault",
        "1",
        str(custom),
        2,
    )


def test_conftest_getenv_is_in_the_reads_trace(venv_virtualenv: Path, project: Path) -> None:
    snapshot = snap(venv_virtualenv, project, env=base_env())
    reads = [r for r in snapshot.environ.reads if r.name == "LEDGER_FLAG"]
    assert len(reads) == 1
    read = reads[0]
    assert read.file == str(project / "tests" / "conftest.py")
    assert read.line == 5
    assert read.how == "getenv"
    assert read.present is False
    assert read.phase == "conftest"
    app_reads = [r for r in snapshot.environ.reads if r.name == "LEDGER_TESTING"]
    assert app_reads
    assert app_reads[0].file == str(project / "ledger" / "settings.py")
    assert app_reads[0].phase == "collection"
    plugin_reads = [r for r in snapshot.environ.reads if r.name == "EARLY_MODE"]
    assert plugin_reads
    assert plugin_reads[0].phase == "plugin-load"


def test_entry_point_plugin_loads_before_the_conftest(venv_virtualenv: Path, project: Path) -> None:
    snapshot = snap(venv_virtualenv, project, env=base_env())
    plugins = snapshot.pytest.plugins
    names = [p.name for p in plugins]
    early = next(p for p in plugins if p.module == "early_plugin")
    conftest = next(p for p in plugins if p.how == "conftest")
    assert early.how == "entry-point"
    assert early.distribution == "early-plugin"
    assert names.index(early.name) < names.index(conftest.name)
    assert conftest.file == str(project / "tests" / "conftest.py")
    assert snapshot.pytest.conftests == (str(project / "tests" / "conftest.py"),)
    assert snapshot.pytest.testpaths == ("tests",)
    assert snapshot.pytest.inifile == str(project / "pyproject.toml")
    assert snapshot.pytest.rootdir == str(project)


@pytest.mark.parametrize("invocation", ["pytest", "python-m"])
def test_sys_path_matches_the_real_invocation(
    venv_virtualenv: Path, project: Path, tmp_path: Path, invocation: str
) -> None:
    """The probe's sys.path equals, entry for entry, what a real run sees at the same point."""
    dump = tmp_path / "real-sys-path.json"
    env = base_env(DUMP_SYS_PATH=str(dump))
    python = bin_dir(venv_virtualenv) / "python"
    cmd = [bin_dir(venv_virtualenv) / "pytest"] if invocation == "pytest" else [python, "-m", "pytest"]
    run([*cmd, "-q", "-p", "no:cacheprovider"], cwd=project, env=env)
    real = json.loads(dump.read_text())
    snapshot = snap(venv_virtualenv, project, invocation=invocation, env=env)
    probed = [e.path for e in snapshot.sys_path]
    assert probed == real
    first = snapshot.sys_path[0]
    if invocation == "pytest":
        # The console script's directory is sys.path[0] (then pytest prepends test dirs).
        assert str(bin_dir(venv_virtualenv)) in probed
        assert str(project) not in probed[probed.index(str(bin_dir(venv_virtualenv))) :]
    else:
        assert str(project) in probed
    invocation_entries = [e for e in snapshot.sys_path if e.origin == "invocation"]
    assert len(invocation_entries) == 1
    expected = str(bin_dir(venv_virtualenv)) if invocation == "pytest" else str(project)
    assert invocation_entries[0].path == expected
    assert first.path == real[0]


def test_secrets_never_reach_the_snapshot(venv_uv: Path, project: Path, tmp_path: Path) -> None:
    env = base_env(
        BROKER_URL="amqp://user:CANARY123@h/", MY_TOKEN="CANARY456", LEDGER_FLAG="amqp://u:CANARY789@x:5672/v"
    )
    out = tmp_path / "snap.json"
    proc = run(
        [*CLI, "snapshot", "--python", venv_uv, "--cwd", project, "-o", out],
        env=env,
    )
    text = out.read_text()
    assert "CANARY" not in text
    assert "CANARY" not in proc.stdout + proc.stderr
    data = json.loads(text)
    variables = {v["name"]: v for v in data["environ"]["variables"]}
    assert variables["BROKER_URL"]["value"] == "amqp://user:***@h/"
    assert variables["BROKER_URL"]["secret"] is True
    assert variables["MY_TOKEN"]["value"] == "***"
    assert variables["MY_TOKEN"]["secret"] is True
    assert variables["HOME"]["secret"] is False
    assert variables["MY_TOKEN"]["fingerprint"] != variables["BROKER_URL"]["fingerprint"]


def test_the_probe_writes_nothing_into_the_project(venv_virtualenv: Path, project: Path) -> None:
    before = sorted(str(p.relative_to(project)) for p in project.rglob("*"))
    snap(venv_virtualenv, project, env=base_env())
    after = sorted(str(p.relative_to(project)) for p in project.rglob("*"))
    assert after == before
    assert not (project / ".pytest_cache").exists()


def test_double_import_under_two_names(tmp_path: Path, venv_uv: Path) -> None:
    proj = write_tree(
        tmp_path / "dbl",
        {
            "src/__init__.py": "",
            "src/app/__init__.py": "",
            "src/app/tasks.py": "VALUE = 1\n",
            "conftest.py": """
                import os, sys
                sys.path.insert(0, os.path.join(os.path.dirname(__file__), "src"))
            """,
            "tests/test_x.py": "import app.tasks\nimport src.app.tasks\n\ndef test_x():\n    pass\n",
        },
    )
    snapshot = snap(venv_uv, proj, env=base_env())
    doubles = {d.file: d.names for d in snapshot.imports.double_imports}
    assert doubles[str(proj / "src" / "app" / "tasks.py")] == ("app.tasks", "src.app.tasks")
    origins = {o.module: o for o in snapshot.imports.origins}
    assert origins["app.tasks"].in_project is True
    assert origins["pytest"].in_project is False
    timeline = {e.module: e for e in snapshot.imports.timeline}
    assert timeline["src.app.tasks"].phase == "collection"
    assert timeline["src.app.tasks"].importer_file == str(proj / "tests" / "test_x.py")


def test_env_without_pytest_is_reported_not_fatal(tmp_path: Path, project: Path) -> None:
    venv = tmp_path / "bare"
    make_venv(venv, creator="venv")
    snapshot = snap(venv, project, env=base_env())
    assert snapshot.pytest.available is False
    assert any(e.section == "pytest" and "not importable" in e.message for e in snapshot.errors)
    assert snapshot.interpreter.venv_creator == "venv"


def test_missing_interpreter_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match=r"^Python interpreter not found: .*nope$"):
        take_snapshot(ProbeRequest(python=str(tmp_path / "nope"), cwd=tmp_path))
    with pytest.raises(ProbeError, match="not a virtual environment"):
        take_snapshot(ProbeRequest(python=str(tmp_path), cwd=tmp_path))


def test_hanging_conftest_times_out(tmp_path: Path, venv_uv: Path) -> None:
    proj = write_tree(
        tmp_path / "hang",
        {"conftest.py": "import time\ntime.sleep(60)\n", "test_a.py": "def test_a(): pass\n"},
    )
    with pytest.raises(ProbeError, match=r"did not finish within 3 s"):
        take_snapshot(ProbeRequest(python=str(venv_uv), cwd=proj, env=base_env(), timeout=3))


def test_crashing_probe_is_a_one_line_error(tmp_path: Path, venv_uv: Path) -> None:
    proj = write_tree(
        tmp_path / "crash", {"conftest.py": "import os\nos._exit(3)\n", "test_a.py": "def test_a(): pass\n"}
    )
    with pytest.raises(ProbeError, match=r"the probe crashed in .* \(exit code 3\)") as info:
        take_snapshot(ProbeRequest(python=str(venv_uv), cwd=proj, env=base_env()))
    assert "\n" not in str(info.value)


def test_a_thousand_distributions(tmp_path: Path, project: Path) -> None:
    """Synthetic dist-infos as a wheel install leaves them; top-level modules come from RECORD."""
    venv = tmp_path / "big"
    python = make_venv(venv, creator="uv")
    install(python, "pytest")
    site = Path(
        run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    )
    for i in range(1000):
        info = site / f"synth_{i:04d}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: Synth_{i:04d}\nVersion: 1.0\n")
        (info / "RECORD").write_text(f"synth_{i:04d}/__init__.py,,\n{info.name}/METADATA,,\n")
    snapshot = snap(venv, project, env=base_env())
    synth = [d for d in snapshot.distributions if d.name.startswith("synth-")]
    assert len(synth) == 1000
    one = next(d for d in synth if d.name == "synth-0042")
    assert one.raw_name == "Synth_0042"
    assert one.top_level == ("synth_0042",)
    assert one.installer is None


def _real_interpreter(version: str) -> str | None:
    """``pythonX.Y`` on PATH, else a pyenv-installed one (pyenv shims only answer for the active version)."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [shutil.which(f"python{version}")]
    candidates += [str(p) for p in sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}"))]
    for exe in candidates:
        if exe is None:
            continue
        proc = run([exe, "-c", "import sys; print(sys.executable)"], check=False)
        if proc.returncode == 0:
            return proc.stdout.strip()
    return None


@pytest.mark.parametrize("version", ["3.9", "3.10", "3.12", "3.13"])
def test_every_supported_cpython(tmp_path: Path, project: Path, version: str) -> None:
    """The probe is stdlib-only and 3.9-compatible: it runs on each interpreter tox supports."""
    exe = _real_interpreter(version)
    if exe is None:
        pytest.skip(f"python{version} is not installed here")
    venv = tmp_path / "env"
    python = make_venv(venv, creator="uv", python=exe)
    install(python, "pytest")
    snapshot = snap(venv, project, env=base_env())
    assert snapshot.interpreter.version.startswith(version + ".")
    assert snapshot.errors == ()
    assert snapshot.sys_path[0].origin in ("conftest", "pytest-rootdir", "invocation")
    assert [e.origin for e in snapshot.sys_path].count("invocation") == 1
    # ledger is not installed here, so collecting its test fails — and is reported, not fatal.
    assert snapshot.pytest.available is True
    assert snapshot.pytest.collection_errors
    # That import is the one that failed: none the stdlib, pytest or pluggy tried on their own.
    failed = [(f.module, f.importer, f.file, f.in_project) for f in snapshot.imports.failed]
    assert failed == [("ledger", "test_ledger", str(project / "tests" / "test_ledger.py"), True)]


def test_environment_writes_are_recorded_and_redacted(tmp_path: Path, venv_uv: Path) -> None:
    proj = write_tree(
        tmp_path / "writes",
        {
            "conftest.py": """
                import os
                os.environ["DB_PASSWORD"] = "CANARY999"
                os.environ.update(APP_MODE="test")
                os.environ.pop("APP_MODE")
            """,
            "test_a.py": "def test_a():\n    pass\n",
        },
    )
    snapshot = snap(venv_uv, proj, env=base_env())
    conftest = str(proj / "conftest.py")
    writes = [(w.name, w.how, w.value, w.line) for w in snapshot.environ.writes if w.file == conftest]
    assert writes == [
        ("DB_PASSWORD", "setitem", "***", 2),
        ("APP_MODE", "setitem", "test", 3),
        ("APP_MODE", "pop", None, 4),
    ]
    assert "CANARY" not in json.dumps(snapshot_to_dict(snapshot))


def test_project_package_files_are_listed_where_they_resolve(venv_virtualenv: Path, project: Path) -> None:
    """The editable install resolves ``ledger`` to the source tree: its files are listed with hashes."""
    (project / "ledger" / "defaults.json").write_text('{"broker": "stub"}\n')
    try:
        snapshot = snap(venv_virtualenv, project, env=base_env())
    finally:
        (project / "ledger" / "defaults.json").unlink()
    packages = {p.name: p for p in snapshot.imports.packages}
    assert set(packages) == {"ledger"}  # tests/ has no __init__.py; libraries are not listed
    ledger = packages["ledger"]
    assert ledger.root == str(project / "ledger")
    files = {f.path: f for f in ledger.files}
    assert set(files) == {"__init__.py", "settings.py", "defaults.json"}
    assert files["defaults.json"].size == len('{"broker": "stub"}\n')
    assert files["defaults.json"].sha256 is not None
    assert ledger.truncated is False


def test_interpreter_flags_of_the_real_command_are_carried_into_the_probe(
    tmp_path: Path, venv_uv: Path
) -> None:
    """``python -I -O -X dev -m pytest``: the probe runs with the same options (and still finds
    its own modules although -I puts no script directory on sys.path on 3.11+)."""
    proj = write_tree(tmp_path / "flags", {"tests/test_a.py": "def test_a():\n    assert True\n"})
    snapshot = take_snapshot(
        ProbeRequest(
            python=str(venv_uv),
            cwd=proj,
            env=base_env(),
            invocation="python-m",
            source=Source(kind="cli", name="test"),
            python_flags=("-I", "-O", "-Xdev"),
        )
    )
    flags = snapshot.interpreter.flags
    assert (flags["isolated"], flags["optimize"], flags["dev_mode"]) == (1, 1, 1)
    assert snapshot.meta.command[1:4] == ("-I", "-O", "-Xdev")
    assert snapshot.errors == ()
    assert snapshot.pytest.available is True


def test_a_plugin_raising_through_pytest_main_is_recorded_as_the_crash(tmp_path: Path, venv_uv: Path) -> None:
    """pytest-django raises ImportError out of pytest.main() when it cannot import the settings
    module; that exception is the run's crash (pytest.crash), not only a probe note."""
    proj = write_tree(
        tmp_path / "boom",
        {
            "boomplug.py": (
                "def pytest_load_initial_conftests(early_config, parser, args):\n"
                "    raise ImportError(\"No module named 'tests'\\n\\nexplanation on a second line\")\n"
            ),
            "pytest.ini": "[pytest]\naddopts = -p boomplug\n",
            "test_a.py": "def test_a(): pass\n",
        },
    )
    shot = snap(venv_uv, proj, env={**base_env(), "PYTHONPATH": str(proj)})
    assert shot.pytest.crash == "ImportError: No module named 'tests'"
    assert shot.pytest.collected == 0


def test_a_command_without_the_terminal_plugin_still_collects(tmp_path: Path, venv_uv: Path) -> None:
    """``pytest -p no:terminal`` (a quiet CI command): the probe's own ``-q`` belongs to the
    terminal plugin and made the collection a usage error (exit 4, nothing collected)."""
    proj = write_tree(tmp_path / "quiet", {"test_a.py": "def test_a(): pass\n"})
    shot = take_snapshot(
        ProbeRequest(python=str(venv_uv), cwd=proj, env=base_env(), pytest_args=("-p", "no:terminal"))
    )
    assert (shot.pytest.exit_code, shot.pytest.collected) == (0, 1)
