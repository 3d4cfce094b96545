"""The ``brokers`` section and the BA6xx rules on real dramatiq projects in real venvs.

Every scenario is a small project written into a temporary directory, audited by the real
probe (``take_snapshot``) in a real venv made with uv. Nothing in these projects connects to
a broker during collection: dramatiq's brokers only connect on first use.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from helpers import install, make_venv, write_tree
from tox_broker_audit.diagnosis.engine import diagnose
from tox_broker_audit.diagnosis.model import Finding, Report
from tox_broker_audit.diagnosis.rules import brokers as broker_rules
from tox_broker_audit.diagnosis.rules import reachability
from tox_broker_audit.snapshot.capture import ProbeRequest, take_snapshot
from tox_broker_audit.snapshot.io import snapshot_to_dict
from tox_broker_audit.snapshot.model import Snapshot

BROKER_RULES = [*broker_rules.broker_audit_rules(), *reachability.broker_audit_rules()]

if TYPE_CHECKING:
    from _rabbitmq import RabbitNode

#: The session-wide RabbitMQ fixture: one plugin, so one node for all modules that use it.
pytest_plugins = ["_rabbitmq"]

pytestmark = pytest.mark.slow

SECRET = "S3cr3t-Pa55w0rd"

PLUGIN_DIST = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "tba-fixture-plugin"
        version = "1.0"

        [project.entry-points.pytest11]
        tba_fixture = "tba_fixture_plugin"
    """,
    "tba_fixture_plugin.py": '''
        """A pytest plugin that imports the app's tasks when it is loaded (a common mistake)."""
        import app.tasks  # noqa: F401


        def pytest_report_header(config):
            return "tba fixture plugin"
    ''',
}

#: Tasks declared with ``@dramatiq.actor`` and no broker set: dramatiq's implicit default.
TASKS_IMPLICIT = {
    "app/__init__.py": "",
    "app/tasks.py": """
        import dramatiq


        @dramatiq.actor
        def send_email(to):
            return to


        @dramatiq.actor(queue_name="images")
        def resize(path):
            return path
    """,
    "tests/__init__.py": "",
    "tests/conftest.py": """
        import dramatiq
        from dramatiq.brokers.stub import StubBroker

        dramatiq.set_broker(StubBroker())
    """,
    "tests/test_tasks.py": """
        from app.tasks import send_email


        def test_send():
            send_email.send("a@example.org")
    """,
}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "UV_CACHE_DIR")}
    env.update(extra)
    return env


def _snapshot(python: Path, cwd: Path, env: Mapping[str, str]) -> Snapshot:
    return take_snapshot(ProbeRequest(python=str(python), cwd=cwd, env=env, timeout=90))


def _site_packages(python: Path) -> Path:
    found = sorted((python.parent.parent / "lib").glob("python3*/site-packages"))
    assert found, python
    return found[0]


def _codes(findings: tuple[Finding, ...] | list[Finding]) -> list[str]:
    return [f.code for f in findings]


def _only_broker_rules(baseline: Snapshot | None, target: Snapshot) -> Report:
    return diagnose(baseline, target, rules=BROKER_RULES)


def _assert_no_secret(*objects: object) -> None:
    for obj in objects:
        if isinstance(obj, Snapshot):
            text = json.dumps(snapshot_to_dict(obj))
        elif isinstance(obj, Report):
            text = repr(obj)
        else:
            text = str(obj)
        assert SECRET not in text


@pytest.fixture(scope="module")
def dramatiq_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dramatiq + pika + pytest: pika installed, so the implicit default is RabbitmqBroker."""
    python = make_venv(tmp_path_factory.mktemp("venv") / "v", creator="uv")
    install(python, "dramatiq", "pika", "pytest")
    return python


@pytest.fixture(scope="module")
def plugin_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A venv where an installed pytest11 plugin imports ``app.tasks`` at plugin load.

    The project is on ``sys.path`` through a ``.pth`` path line, as an editable install of a
    src-less project would put it.
    """
    base = tmp_path_factory.mktemp("plugin")
    project = write_tree(base / "proj", TASKS_IMPLICIT)
    dist = write_tree(base / "dist", PLUGIN_DIST)
    python = make_venv(base / "v", creator="uv")
    install(python, "dramatiq", "pika", "pytest", str(dist))
    (_site_packages(python) / "_tba_app.pth").write_text(f"{project}\n", encoding="utf-8")
    return python, project


# --------------------------------------------------------------------------- plugin load


def test_actor_bound_to_implicit_default_created_at_plugin_load(plugin_project: tuple[Path, Path]) -> None:
    python, project = plugin_project
    snap = _snapshot(python, project, _env())
    b = snap.brokers
    assert b.captured
    assert b.instrumented
    assert b.dramatiq_installed
    assert b.pika_installed
    assert b.dramatiq_version
    assert not snap.errors, snap.errors

    # The global broker is the conftest's StubBroker ...
    assert b.global_broker is not None
    assert b.global_broker.cls == "StubBroker"
    # ... but both actors were bound, at plugin load, to the implicit default RabbitmqBroker.
    rabbit_id = "RabbitmqBroker@127.0.0.1:5672"
    actors = {a.name: a for a in b.actors}
    assert set(actors) == {"send_email", "resize"}
    for actor in actors.values():
        assert actor.module == "app.tasks"
        assert actor.broker_id == rabbit_id
        assert actor.broker_class == "RabbitmqBroker"
        assert actor.broker_target == "127.0.0.1:5672"
        assert actor.bound_to_global is False
        assert actor.phase == "plugin-load"
        assert actor.file == str(project / "app" / "tasks.py")
    assert actors["resize"].queue == "images"

    implicit = [c for c in b.creations if c.implicit_default]
    assert len(implicit) == 1
    creation = implicit[0]
    assert (creation.cls, creation.phase, creation.broker_id) == ("RabbitmqBroker", "plugin-load", rabbit_id)
    assert creation.file == str(project / "app" / "tasks.py")
    assert creation.module == "app.tasks"
    plugin_file = str(_site_packages(python) / "tba_fixture_plugin.py")
    # The causal stack names the plugin line that imported app.tasks.
    assert [(f.file, f.line) for f in creation.stack[:2]][1] == (plugin_file, 2)

    stub = [c for c in b.creations if c.cls == "StubBroker"]
    assert stub
    assert stub[0].phase == "conftest"
    assert not stub[0].implicit_default
    assert [(s.cls, s.implicit_default, s.phase) for s in b.set_calls] == [
        ("RabbitmqBroker", True, "plugin-load"),
        ("StubBroker", False, "conftest"),
    ]
    reach = {r.target: r for r in b.reachability}
    # A system RabbitMQ may run on 5672 on CI machines: either answer is a real answer.
    assert reach["127.0.0.1:5672"].status in ("refused", "reachable")
    assert reach["127.0.0.1:5672"].protocol == "amqp"

    report = _only_broker_rules(None, snap)
    by_code = {f.code: f for f in report.findings}
    assert {"BA605", "BA601"} <= set(by_code)
    ba605 = by_code["BA605"]
    assert ba605.severity == "error"
    assert ba605.location is not None
    assert ba605.location.path == str(project / "app" / "tasks.py")
    # The plugin line that imported app.tasks (shown relative to pytest's rootdir, which depends on
    # the ini files above the temporary directory: the name and line are what is certain).
    assert "tba_fixture_plugin.py:2 (pytest plugin tba_fixture" in ba605.detail
    assert "pytest plugin tba_fixture" in ba605.detail
    assert {"plugin:tba_fixture", "dist:tba-fixture-plugin", "module:app.tasks"} <= set(ba605.about)
    assert ba605.evidence["stack"][1] == {"file": plugin_file, "line": 2, "module": "tba_fixture_plugin"}
    ba601 = by_code["BA601"]
    assert ba601.subject == "app.tasks.send_email, app.tasks.resize"
    assert "target:127.0.0.1:5672" in ba601.effects_on
    # BA605 (the cause) explains BA601 (the binding).
    assert ba601.id in ba605.explains
    assert ba605.root_cause


def test_implicit_default_created_by_pth_at_startup(tmp_path: Path) -> None:
    """An executable ``.pth`` line imports the tasks at interpreter start-up."""
    project = write_tree(tmp_path / "proj", TASKS_IMPLICIT)
    python = make_venv(tmp_path / "v", creator="uv")
    install(python, "dramatiq", "pika", "pytest")
    pth = _site_packages(python) / "zz_app.pth"
    pth.write_text(f"{project}\nimport app.tasks\n", encoding="utf-8")
    snap = _snapshot(python, project, _env())
    (implicit,) = [c for c in snap.brokers.creations if c.implicit_default]
    assert (implicit.phase, implicit.module) == ("startup", "app.tasks")
    assert [(f.file, f.line) for f in implicit.stack] == [
        (str(project / "app" / "tasks.py"), implicit.line),
        (str(pth), None),
    ]
    assert {a.phase for a in snap.brokers.actors} == {"startup"}
    ba605 = _by_code_single(snap)["BA605"]
    assert f"{pth} (a .pth file run at start-up)" in ba605.detail
    assert f"file:{pth}" in ba605.about


def _by_code_single(snap: Snapshot) -> dict[str, Finding]:
    return {f.code: f for f in _only_broker_rules(None, snap).findings}


def test_stub_set_before_actors_is_clean(dramatiq_venv: Path, tmp_path: Path) -> None:
    project = write_tree(
        tmp_path,
        {
            "conftest.py": """
                import dramatiq
                from dramatiq.brokers.stub import StubBroker

                dramatiq.set_broker(StubBroker())
            """,
            "app/__init__.py": "",
            "app/tasks.py": TASKS_IMPLICIT["app/tasks.py"],
            "tests/test_tasks.py": TASKS_IMPLICIT["tests/test_tasks.py"],
        },
    )
    snap = _snapshot(dramatiq_venv, project, _env())
    b = snap.brokers
    assert [c.implicit_default for c in b.creations] == [False]
    assert all(a.bound_to_global and a.broker_class == "StubBroker" for a in b.actors)
    assert {a.phase for a in b.actors} == {"collection"}
    assert b.reachability == ()
    assert _only_broker_rules(None, snap).findings == ()


def test_default_is_redis_without_pika(tmp_path: Path, closed_port: int) -> None:
    python = make_venv(tmp_path / "v", creator="uv")
    install(python, "dramatiq", "redis", "pytest")
    project = write_tree(
        tmp_path / "proj",
        {
            "conftest.py": "",
            "app/__init__.py": "",
            "app/tasks.py": TASKS_IMPLICIT["app/tasks.py"],
            "tests/test_tasks.py": TASKS_IMPLICIT["tests/test_tasks.py"],
        },
    )
    port = closed_port
    snap = _snapshot(python, project, _env(REDIS_URL=f"redis://:{SECRET}@127.0.0.1:{port}/0"))
    b = snap.brokers
    assert (b.pika_installed, b.redis_installed) == (False, True)
    assert b.global_broker is not None
    assert (b.global_broker.cls, b.global_broker.kind, b.global_broker.target) == (
        "RedisBroker",
        "redis",
        "localhost:6379",
    )
    assert [c.implicit_default for c in b.creations] == [True]
    assert {a.phase for a in b.actors} == {"collection"}
    (url,) = b.env_urls
    assert (url.variable, url.scheme, url.target) == ("REDIS_URL", "redis", f"127.0.0.1:{port}")
    assert SECRET not in url.url
    reach = {r.target: r for r in b.reachability}
    assert reach[f"127.0.0.1:{port}"].status == "refused"
    assert reach[f"127.0.0.1:{port}"].protocol == "redis"
    report = _only_broker_rules(None, snap)
    # No stub anywhere: the implicit default is reported, the binding is not called wrong.
    codes = _codes(report.findings)
    assert "BA605" in codes
    assert "BA601" not in codes
    assert next(f for f in report.findings if f.code == "BA605").severity == "warning"
    ba603 = [f for f in report.findings if f.code == "BA603" and f.subject == f"127.0.0.1:{port}"]
    assert ba603
    assert ba603[0].severity == "warning"
    assert ba603[0].evidence["variables"] == ["REDIS_URL"]
    _assert_no_secret(snap, report)


# --------------------------------------------------------------------------- real broker

BROKER_FROM_ENV = {
    "conftest.py": "",
    "app/__init__.py": "",
    "app/broker.py": """
        import os

        import dramatiq
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=os.getenv("BROKER_URL", "amqp://127.0.0.1:{fallback_port}"))
        dramatiq.set_broker(broker)
    """,
    "app/tasks.py": """
        import dramatiq

        from app.broker import broker  # noqa: F401 - sets the broker before the actors exist


        @dramatiq.actor
        def send_email(to):
            return to
    """,
    "tests/test_tasks.py": """
        from app.tasks import send_email


        def test_send():
            send_email.send("a@example.org")
    """,
}


@pytest.mark.rabbitmq
def test_isolation_illusion_with_live_broker(
    dramatiq_venv: Path, tmp_path: Path, rabbitmq: RabbitNode, closed_port: int
) -> None:
    """Locally BROKER_URL points at a live RabbitMQ (tests "pass"), tox strips it: BA604 + BA603."""
    closed = closed_port
    files = dict(BROKER_FROM_ENV)
    files["app/broker.py"] = files["app/broker.py"].replace("{fallback_port}", str(closed))
    project = write_tree(tmp_path, files)
    live_url = f"amqp://tba:{SECRET}@127.0.0.1:{rabbitmq.port}/%2F"
    baseline = _snapshot(dramatiq_venv, project, _env(BROKER_URL=live_url))
    target = _snapshot(dramatiq_venv, project, _env())

    b_reach = {r.target: r for r in baseline.brokers.reachability}
    t_reach = {r.target: r for r in target.brokers.reachability}
    assert b_reach[rabbitmq.target].status == "reachable"
    assert b_reach[rabbitmq.target].elapsed_ms is not None
    assert t_reach[f"127.0.0.1:{closed}"].status == "refused"
    assert baseline.brokers.global_broker is not None
    assert baseline.brokers.global_broker.target == rabbitmq.target
    assert baseline.brokers.global_broker.url == f"amqp://tba:***@{rabbitmq.target}/%2F"
    (env_url,) = baseline.brokers.env_urls
    assert (env_url.variable, env_url.url) == ("BROKER_URL", f"amqp://tba:***@{rabbitmq.target}/%2F")
    creation = baseline.brokers.creations[0]
    assert (creation.implicit_default, creation.module, creation.phase) == (False, "app.broker", "collection")
    assert creation.file == str(project / "app" / "broker.py")

    report = _only_broker_rules(baseline, target)
    by_code = {f.code: f for f in report.findings}
    assert {"BA602", "BA603", "BA604"} <= set(by_code)
    assert "BA601" not in by_code
    assert "BA605" not in by_code
    ba604 = by_code["BA604"]
    assert ba604.severity == "warning"
    assert ba604.subject == rabbitmq.target
    assert ba604.evidence["side"] == "baseline"
    assert ba604.evidence["variables"] == ["BROKER_URL"]
    assert "module:app.broker" in ba604.about
    ba603 = by_code["BA603"]
    assert ba603.subject == f"127.0.0.1:{closed}"
    assert ba603.severity == "error"
    assert ba603.evidence["actors"] == ["app.tasks.send_email"]
    assert ba603.id in by_code["BA602"].explains
    _assert_no_secret(baseline, target, report)


@pytest.mark.rabbitmq
def test_ba101_is_the_top_finding(
    dramatiq_venv: Path, tmp_path: Path, rabbitmq: RabbitNode, closed_port: int
) -> None:
    """The full diagnosis: BROKER_URL missing under tox (BA101) is the root cause on top."""
    closed = closed_port
    files = dict(BROKER_FROM_ENV)
    files["app/broker.py"] = files["app/broker.py"].replace("{fallback_port}", str(closed))
    project = write_tree(tmp_path, files)
    baseline = _snapshot(
        dramatiq_venv, project, _env(BROKER_URL=f"amqp://tba:{SECRET}@127.0.0.1:{rabbitmq.port}/%2F")
    )
    target = _snapshot(dramatiq_venv, project, _env())
    report = diagnose(baseline, target, env_name="py")
    codes = _codes(report.findings)
    assert "BA604" in codes
    top = report.findings[0]
    assert (top.code, top.subject) == ("BA101", "BROKER_URL")
    assert top.root_cause
    ba604 = next(f for f in report.findings if f.code == "BA604")
    assert ba604.id in top.explains
    _assert_no_secret(baseline, target, report)


# --------------------------------------------------------------------------- celery


def test_celery_broker_urls_are_detected_and_redacted(tmp_path: Path, closed_port: int) -> None:
    """Celery: broker URL settings of the apps found after collection and in the environment."""
    python = make_venv(tmp_path / "v", creator="uv")
    install(python, "celery", "pytest")
    closed = closed_port
    project = write_tree(
        tmp_path / "proj",
        {
            "conftest.py": "",
            "proj/__init__.py": "",
            "proj/celery_app.py": f"""
                from celery import Celery

                app = Celery("proj", broker="amqp://app:{SECRET}@127.0.0.1:{closed}/vh")
            """,
            "tests/test_c.py": """
                from proj.celery_app import app


                def test_app():
                    assert app.main == "proj"
            """,
        },
    )
    snap = _snapshot(python, project, _env(CELERY_RESULT_BACKEND=f"redis://:{SECRET}@127.0.0.1:{closed}/1"))
    b = snap.brokers
    assert not b.dramatiq_installed
    assert [(c.setting, c.url) for c in b.celery_urls] == [
        ("broker_url", f"amqp://app:***@127.0.0.1:{closed}/vh")
    ]
    assert "celery app proj" in b.celery_urls[0].source
    (env_url,) = b.env_urls
    assert (env_url.variable, env_url.scheme) == ("CELERY_RESULT_BACKEND", "redis")
    # One target, two URLs: checked once, with the protocol of the first user.
    assert [(r.target, r.status) for r in b.reachability] == [(f"127.0.0.1:{closed}", "refused")]
    report = _only_broker_rules(None, snap)
    (ba603,) = report.findings
    assert ba603.code == "BA603"
    assert ba603.severity == "warning"
    assert "Celery's broker_url" in ba603.detail
    _assert_no_secret(snap, report)
