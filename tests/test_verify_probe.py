"""The verify stage's real parts: the probe applies an experiment, records relative opens, and
a re-probe of a real interpreter confirms a real cause (no tox: tests/scenarios has those)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from helpers import install, make_venv, run, write_tree
from tox_broker_audit.diagnosis.engine import diagnose
from tox_broker_audit.snapshot.capture import ProbeRequest, take_snapshot
from tox_broker_audit.snapshot.model import Snapshot, Source
from tox_broker_audit.verify.stage import verify
from tox_broker_audit.verify.symptom import symptom_of

pytestmark = pytest.mark.slow

PROJECT = {
    "config/broker.json": '{"url": "stub://"}\n',
    "app/__init__.py": "",
    "app/broker.py": """
        import json
        import os

        import dramatiq

        try:
            with open("config/broker.json", encoding="utf-8") as fh:
                url = json.load(fh)["url"]
        except FileNotFoundError:
            url = "amqp://127.0.0.1:1?connection_attempts=1"
        if os.environ.get("UNIT_TESTS") == "1" or url == "stub://" and os.environ.get("BOOTED") != "yes":
            from dramatiq.brokers.stub import StubBroker

            broker = StubBroker()
        else:
            from dramatiq.brokers.rabbitmq import RabbitmqBroker

            broker = RabbitmqBroker(url="amqp://127.0.0.1:1?connection_attempts=1")
        dramatiq.set_broker(broker)


        @dramatiq.actor
        def send_welcome(user_id):
            pass
        """,
    "tests/test_app.py": "from app import broker\n\n\ndef test_x():\n    assert broker\n",
    "pytest.ini": "[pytest]\npythonpath = .\n",
}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A project, a uv venv with pytest + dramatiq, and a .pth file whose exec line sets BOOTED."""
    root = tmp_path_factory.mktemp("verify")
    project = write_tree(root / "proj", PROJECT)
    venv = root / "env"
    python = make_venv(venv, creator="uv")
    install(python, "pytest", "dramatiq", "pika")
    site = Path(
        run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    )
    (site / "zz_boot.pth").write_text("import os; os.environ['BOOTED'] = 'yes'\n")
    return project, venv, site


def _request(venv: Path, cwd: Path, project: Path, **env: str) -> ProbeRequest:
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "VIRTUAL_ENV", "PYTHONPATH"))
    }
    environ.pop("UNIT_TESTS", None)
    environ.update(env)
    return ProbeRequest(
        python=str(venv), cwd=cwd, env=environ, source=Source(kind="cli", name="t"), project_root=project
    )


def _snap(request: ProbeRequest, **experiment: list[str]) -> Snapshot:
    from dataclasses import replace

    return take_snapshot(replace(request, experiment=experiment or None))


def test_the_probe_applies_an_experiment(env: tuple[Path, Path, Path], tmp_path: Path) -> None:
    project, venv, _ = env
    request = _request(venv, project, project)
    plain = _snap(request)
    assert symptom_of(plain, str(project)).actors == (("send_welcome", "RabbitmqBroker", "127.0.0.1:1"),)
    skipped = _snap(request, skip_pth=["zz_boot.pth"])
    assert symptom_of(skipped, str(project)).actors == (("send_welcome", "StubBroker", ""),)
    custom = tmp_path / "sitecustomize.py"
    custom.write_text("import os\nos.environ['UNIT_TESTS'] = '1'\n")
    extra = tmp_path / "lib"
    extra.mkdir()
    ran = _snap(request, run_files=[str(custom)], path_prepend=[str(extra)])
    assert symptom_of(ran, str(project)).actors == (("send_welcome", "StubBroker", ""),)
    assert [w.file for w in ran.environ.writes if w.name == "UNIT_TESTS"] == [str(custom)]
    assert str(extra) in [entry.path for entry in ran.sys_path][:3]


def test_relative_opens_are_recorded_with_their_outcome(env: tuple[Path, Path, Path]) -> None:
    project, venv, _ = env
    found = _snap(_request(venv, project, project)).opens
    assert [(o.path, o.exists, o.file) for o in found] == [
        ("config/broker.json", True, str(project / "app" / "broker.py"))
    ]
    missing = _snap(_request(venv, project / "tests", project)).opens
    assert [(o.path, o.exists, o.resolved) for o in missing] == [
        ("config/broker.json", False, str(project / "tests" / "config" / "broker.json"))
    ]


def test_a_real_re_probe_confirms_the_variable(env: tuple[Path, Path, Path]) -> None:
    project, venv, _ = env
    baseline = take_snapshot(_request(venv, project, project, UNIT_TESTS="1"))
    target_request = _request(venv, project, project)
    target = take_snapshot(target_request)
    report = diagnose(baseline, target, env_name="py")
    verified = verify(report, baseline, target, target_request, {"UNIT_TESTS": "1"}, str(project))
    top = verified.findings[0]
    assert (top.code, top.subject) == ("BA101", "UNIT_TESTS")
    assert top.verification is not None
    assert top.verification.status == "confirmed"
    assert top.verification.effect == "send_welcome binds to StubBroker"
    assert top.verification.runs >= 1


def test_re_probes_skip_a_target_only_sitecustomize_and_take_the_baseline_addopts(
    env: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """Each intervention alone, applied by a real re-probe, gives the baseline's symptom."""
    from tox_broker_audit.verify.interventions import derive
    from tox_broker_audit.verify.runner import make_runner

    project, venv, _ = env
    custom = write_tree(tmp_path / "sc", {"sitecustomize.py": "import os\nos.environ['UNIT_TESTS'] = '0'\n"})
    baseline = take_snapshot(_request(venv, project, project, UNIT_TESTS="1"))
    request = _request(venv, project, project, UNIT_TESTS="1", PYTHONPATH=str(custom))
    target = take_snapshot(request)
    want = symptom_of(baseline, str(project))
    assert want.actors == (("send_welcome", "StubBroker", ""),)
    assert symptom_of(target, str(project)) != want
    skip = next(i for i in derive(baseline, target, {}, "py") if i.skip_customize)
    assert skip.keys == (("sitecustomize", "sitecustomize"),)
    [(after, _)] = make_runner(request, str(project), workers=1)([skip])
    assert after == want

    # The env's command reads another ini file, without the baseline's `--noconftest`.
    other = write_tree(
        tmp_path / "proj", {**PROJECT, "tests/conftest.py": custom.joinpath("sitecustomize.py").read_text()}
    )
    (other / "pytest.ini").write_text("[pytest]\npythonpath = .\naddopts = --noconftest\n")
    baseline = take_snapshot(_request(venv, other, other, UNIT_TESTS="1"))
    request = dataclasses.replace(
        _request(venv, other, other, UNIT_TESTS="1"), pytest_args=("-c", "tox-pytest.ini")
    )
    (other / "tox-pytest.ini").write_text(PROJECT["pytest.ini"])
    target = take_snapshot(request)
    want = symptom_of(baseline, str(other))
    assert want.actors == (("send_welcome", "StubBroker", ""),)
    assert symptom_of(target, str(other)).actors == (("send_welcome", "RabbitmqBroker", "127.0.0.1:1"),)
    addopts = next(i for i in derive(baseline, target, {}, "py") if ("addopts", "") in i.keys)
    assert addopts.args == ("-o", "addopts=--noconftest")
    [(after, _)] = make_runner(request, str(other), workers=1)([addopts])
    assert after == want
