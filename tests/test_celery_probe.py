"""The ``brokers.celery`` section and BA611-BA614 on real Celery projects in a real venv.

One venv with celery, kombu and redis-py (uv); each test writes a small project, takes real
snapshots with the probe (a collection, or the test oracle's run of its tests) and checks what
the probe saw: every app and where each of its settings came from, each task call's outcome and
the endpoint it failed on, Celery's fallback default app, and that nothing secret is written.
A real Redis on loopback answers the backend of the eager-result case (``tests/_redis.py``).
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from helpers import install, make_venv, write_tree
from tox_broker_audit.diagnosis.engine import diagnose
from tox_broker_audit.snapshot.capture import ProbeRequest, take_snapshot
from tox_broker_audit.snapshot.io import snapshot_to_dict
from tox_broker_audit.snapshot.model import CeleryApp, Snapshot

if TYPE_CHECKING:
    from _redis import RedisServer

pytest_plugins = ["_redis"]

pytestmark = pytest.mark.slow

SECRET = "Cel3ry-Pa55w0rd"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def celery_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    python = make_venv(tmp_path_factory.mktemp("celery-venv") / "venv", creator="uv")
    install(python, "celery", "redis", "pytest")
    return python


def _snapshot(python: Path, project: Path, *, run: bool = False, **env: str) -> Snapshot:
    environ = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(project), **env}
    request = ProbeRequest(
        python=str(python),
        cwd=project,
        project_root=project,
        env=environ,
        run_tests={"first": 10} if run else None,
    )
    return take_snapshot(request)


def _app(snapshot: Snapshot, app_id: str) -> CeleryApp:
    return next(a for a in snapshot.brokers.celery.apps if a.id == app_id)


def _settings(app: CeleryApp) -> dict[str, tuple[object, str, str | None]]:
    return {s.name: (s.value, s.source, s.detail) for s in app.settings}


SHOP = {
    "shop/__init__.py": "",
    "shop/celery_app.py": """
        from celery import Celery

        app = Celery("shop", broker="memory://")
        app.config_from_object("shop.celeryconfig")
        app.conf.task_store_eager_result = True
    """,
    "shop/celeryconfig.py": """
        import os

        result_backend = "redis://127.0.0.1:1/0"
        task_always_eager = os.environ.get("SHOP_EAGER") == "1"
    """,
    "shop/tasks.py": """
        from shop.celery_app import app


        @app.task
        def add(x, y):
            return x + y
    """,
    "tests/test_add.py": """
        from shop.tasks import add


        def test_add():
            assert add.delay(2, 3).get(timeout=5) == 5
    """,
}


def test_each_setting_says_where_it_came_from(celery_python: Path, tmp_path: Path) -> None:
    project = write_tree(tmp_path / "proj", SHOP)
    snapshot = _snapshot(celery_python, project, SHOP_EAGER="1", CELERY_RESULT_BACKEND="cache+memory://")
    section = snapshot.brokers.celery
    assert section.imported
    assert {"apps", "calls", "connects"} <= set(section.instrumented)
    app = _app(snapshot, "shop")
    assert (app.fallback, app.module, app.line, app.config_source) == (
        False,
        "shop.celery_app",
        3,
        "shop.celeryconfig",
    )
    assert _settings(app) == {
        "broker_url": ("memory://", "argument", None),
        "result_backend": ("cache+memory://", "env", "CELERY_RESULT_BACKEND"),
        "task_always_eager": (True, "config", "shop.celeryconfig as task_always_eager"),
        "task_eager_propagates": (False, "default", None),
        "task_store_eager_result": (True, "code", "app.conf"),
    }
    assert app.tasks == ("shop.tasks.add",)
    # ``app.conf.x = ...`` at import loads the configuration then: the read is the collection's.
    reads = {(r.phase, r.module) for r in snapshot.environ.reads if r.name == "SHOP_EAGER"}
    assert reads == {("collection", "shop.celeryconfig")}
    assert section.calls == ()  # a collection calls no task


def test_task_calls_in_the_tests_run_name_outcome_and_endpoint(celery_python: Path, tmp_path: Path) -> None:
    broker_port, backend_port = _closed_port(), _closed_port()
    files = dict(SHOP)
    files["shop/celeryconfig.py"] = f"""
        import os

        broker_url = "amqp://guest:{SECRET}@127.0.0.1:{broker_port}//"
        result_backend = "redis://127.0.0.1:{backend_port}/0"
        task_always_eager = os.environ.get("SHOP_EAGER") == "1"
        task_store_eager_result = os.environ.get("SHOP_STORE") == "1"
    """
    files["shop/celery_app.py"] = """
        from celery import Celery

        app = Celery("shop")
        app.config_from_object("shop.celeryconfig")
    """
    project = write_tree(tmp_path / "proj", files)

    eager = _snapshot(celery_python, project, run=True, SHOP_EAGER="1")
    (call,) = eager.brokers.celery.calls
    assert (call.task, call.app_id, call.outcome, call.eager, call.error, call.file, call.line) == (
        "shop.tasks.add",
        "shop",
        "eager",
        True,
        None,
        str(project / "tests" / "test_add.py"),
        5,
    )
    assert [t.outcome for t in eager.pytest.tests] == ["passed"]

    sent = _snapshot(celery_python, project, run=True)
    (call,) = sent.brokers.celery.calls
    assert (call.outcome, call.eager, call.error_side) == ("error", False, "backend")
    assert call.backend_target == f"127.0.0.1:{backend_port}"  # send_task subscribes before it publishes

    stored = _snapshot(celery_python, project, run=True, SHOP_EAGER="1", SHOP_STORE="1")
    (call,) = stored.brokers.celery.calls
    assert (call.outcome, call.eager, call.error_side) == ("error", True, "backend")

    text = json.dumps([snapshot_to_dict(s) for s in (eager, sent, stored)])
    assert SECRET not in text
    assert f"amqp://guest:***@127.0.0.1:{broker_port}//" in text

    report = diagnose(eager, stored)
    codes = [(f.code, f.subject) for f in report.findings if f.code.startswith("BA61")]
    assert ("BA613", "shop.tasks.add") in codes
    assert ("BA612", "shop.task_store_eager_result") in codes


def test_eager_result_stored_in_a_live_redis_is_no_error(
    celery_python: Path, tmp_path: Path, redis_server: RedisServer
) -> None:
    files = dict(SHOP)
    files["shop/celeryconfig.py"] = f"""
        result_backend = "{redis_server.url}"
        task_always_eager = True
        task_store_eager_result = True
    """
    project = write_tree(tmp_path / "proj", files)
    snapshot = _snapshot(celery_python, project, run=True)
    (call,) = snapshot.brokers.celery.calls
    assert (call.outcome, call.error, call.backend_target) == ("eager", None, redis_server.target)
    assert [t.outcome for t in snapshot.pytest.tests] == ["passed"]
    reach = {r.target: r.status for r in snapshot.brokers.reachability}
    assert reach[redis_server.target] == "reachable"


ORPHANS = {
    "orders/__init__.py": "",
    "orders/celery_app.py": """
        from celery import Celery

        app = Celery("orders")
        app.conf.task_always_eager = True
    """,
    "orders/tasks.py": """
        from celery import shared_task


        @shared_task
        def ship(order_id):
            return order_id
    """,
    "tests/test_ship.py": """
        from orders.tasks import ship


        def test_ship():
            assert ship.delay(7).get(timeout=5) == 7
    """,
}


def test_shared_task_without_the_app_binds_to_the_fallback_default_app(
    celery_python: Path, tmp_path: Path
) -> None:
    broker = f"amqp://guest@127.0.0.1:{_closed_port()}//"
    project = write_tree(tmp_path / "proj", ORPHANS)
    local_files = {"tests/conftest.py": "import orders.celery_app  # noqa: F401\n"}
    local = write_tree(tmp_path / "local", {**ORPHANS, **local_files})

    with_app = _snapshot(celery_python, local, run=True, CELERY_BROKER_URL=broker)
    (call,) = with_app.brokers.celery.calls
    assert (call.app_id, call.outcome) == ("orders", "eager")

    without = _snapshot(celery_python, project, run=True, CELERY_BROKER_URL=broker)
    (call,) = without.brokers.celery.calls
    default = _app(without, "default")
    assert (default.fallback, default.is_default) == (True, True)
    assert (call.app_id, call.outcome, call.eager, call.error_side) == ("default", "error", False, "broker")
    assert not any(a.id == "orders" for a in without.brokers.celery.apps)

    report = diagnose(with_app, without)
    top_celery = [f for f in report.findings if f.code.startswith("BA61")]
    assert ("BA614", "orders") in [(f.code, f.subject) for f in top_celery]
    ba614 = next(f for f in top_celery if f.code == "BA614")
    assert ba614.location is not None
    assert ba614.location.line == 3
    assert "orders.celery_app" in ba614.fix


def test_a_project_without_celery_has_an_empty_section_and_imports_nothing(tmp_path: Path) -> None:
    project = write_tree(tmp_path / "proj", {"tests/test_x.py": "def test_x():\n    pass\n"})
    snapshot = _snapshot(Path(sys.executable), project)
    assert snapshot.brokers.celery.imported is False
    assert not any(e.module.partition(".")[0] in ("celery", "kombu") for e in snapshot.imports.timeline)
