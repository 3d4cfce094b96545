"""``broker-audit compare --verify`` on two real venvs: the target re-run with the cause undone.

The target venv has a ``.pth`` file whose exec line sets ``BROKER=rabbit`` at start-up, so the
app binds its actor to a RabbitmqBroker there and to a StubBroker in the baseline venv.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from helpers import install, make_venv, run, write_tree

pytestmark = pytest.mark.slow

PROJECT = {
    "app/__init__.py": "",
    "app/broker.py": """
        import os

        import dramatiq

        if os.environ.get("BROKER") == "rabbit":
            from dramatiq.brokers.rabbitmq import RabbitmqBroker

            broker = RabbitmqBroker(url="amqp://127.0.0.1:1?connection_attempts=1")
        else:
            from dramatiq.brokers.stub import StubBroker

            broker = StubBroker()
        dramatiq.set_broker(broker)


        @dramatiq.actor
        def send_welcome(user_id):
            pass
        """,
    "tests/test_app.py": "from app import broker\n\n\ndef test_x():\n    assert broker\n",
    "pytest.ini": "[pytest]\npythonpath = .\n",
}


def test_compare_confirms_the_cause_by_re_running_the_target(tmp_path: Path) -> None:
    project = write_tree(tmp_path / "proj", PROJECT)
    venvs = {}
    for side in ("local", "other"):
        python = make_venv(tmp_path / side, creator="uv")
        install(python, "pytest", "dramatiq", "pika")
        venvs[side] = python
    site = run([venvs["other"], "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    Path(site.stdout.strip(), "zz_boot.pth").write_text("import os; os.environ['BROKER'] = 'rabbit'\n")

    def compare(*extra: str) -> dict[str, object]:
        cmd = [sys.executable, "-m", "tox_broker_audit", "compare", "--baseline", tmp_path / "local"]
        cmd += ["--target", tmp_path / "other", "--format", "json", "--fail-on", "never", *extra]
        proc = run(cmd, cwd=project)
        assert "Traceback" not in proc.stderr
        data: dict[str, object] = json.loads(proc.stdout)
        return data

    # --verify=auto (the default): the two runs bind send_welcome differently.
    findings = compare("--verify-budget", "3/60")["findings"]
    assert isinstance(findings, list)
    top = findings[0]
    assert top["subject"] == "zz_boot.pth", [(f["code"], f["subject"]) for f in findings[:4]]
    assert top["verification"]["status"] == "confirmed", top["verification"]
    assert top["verification"]["intervention"] == "without the exec lines of zz_boot.pth"
    assert top["verification"]["effect"] == "send_welcome binds to StubBroker"
    assert 1 <= top["verification"]["runs"] <= 3  # --verify-budget 3/60 bounds the re-probes
    off = compare("--verify", "off")["findings"]
    assert isinstance(off, list)
    assert all(f["verification"] is None for f in off)
