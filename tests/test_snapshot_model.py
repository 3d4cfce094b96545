"""Strict snapshot loading and redaction: pure unit tests, no venvs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import CLI, make_venv, run
from tox_broker_audit import SnapshotError, dump_snapshot, load_snapshot
from tox_broker_audit.probe._tba_redact import fingerprint, is_secret_name, redact_text, redact_value
from tox_broker_audit.snapshot.io import snapshot_from_dict, snapshot_to_dict
from tox_broker_audit.snapshot.model import SCHEMA_VERSION


@pytest.fixture(scope="module")
def real_snapshot_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real snapshot (of a bare venv) to corrupt in many ways."""
    root = tmp_path_factory.mktemp("snap")
    make_venv(root / "env", creator="venv")
    out = root / "snap.json"
    run([*CLI, "snapshot", "--python", root / "env", "--cwd", root, "-o", out])
    return out


def test_round_trip_is_lossless(real_snapshot_file: Path, tmp_path: Path) -> None:
    snapshot = load_snapshot(real_snapshot_file)
    copy = tmp_path / "copy.json"
    dump_snapshot(snapshot, copy)
    assert load_snapshot(copy) == snapshot
    assert snapshot_to_dict(snapshot)["schema_version"] == SCHEMA_VERSION


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schema_version=99), r"unsupported snapshot schema_version 99"),
        (
            lambda d: d.update(schema="something/else"),
            r"not a tox-broker-audit snapshot \(schema is 'something/else'",
        ),
        (lambda d: d.pop("interpreter"), r"missing field 'interpreter'"),
        (
            lambda d: d["interpreter"].update(in_venv="yes"),
            r"snapshot\.interpreter\.in_venv: expected true/false",
        ),
        (lambda d: d["environ"]["reads"].append({"name": 1}), r"snapshot\.environ\.reads\[\d+\]"),
        (lambda d: d["pytest"].update(plugins="x"), r"snapshot\.pytest\.plugins: expected a list"),
        (lambda d: d["meta"]["source"].update(kind="alien"), r"'alien' is not one of"),
    ],
)
def test_malformed_snapshots_are_one_line_errors(
    real_snapshot_file: Path, tmp_path: Path, mutate: object, message: str
) -> None:
    data = json.loads(real_snapshot_file.read_text())
    mutate(data)  # type: ignore[operator]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(SnapshotError, match=message) as info:
        load_snapshot(bad)
    assert "\n" not in str(info.value)
    assert str(bad) in str(info.value)


def test_truncated_file(real_snapshot_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "cut.json"
    bad.write_text(real_snapshot_file.read_text()[:500])
    with pytest.raises(SnapshotError, match=r"invalid or truncated JSON at line \d+"):
        load_snapshot(bad)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b'{"name": "package.json"}', "not a tox-broker-audit snapshot"),
    ],
)
def test_foreign_files(tmp_path: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "foreign.json"
    bad.write_bytes(content)
    with pytest.raises(SnapshotError, match=message):
        load_snapshot(bad)


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="snapshot file not found"):
        load_snapshot(tmp_path / "nope.json")
    with pytest.raises(SnapshotError, match="is a directory"):
        load_snapshot(tmp_path)


def test_cli_reports_bad_snapshot_without_traceback(tmp_path: Path) -> None:
    proc = run([*CLI, "snapshot", "--python", tmp_path / "missing"], check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"broker-audit: error: Python interpreter not found: {tmp_path / 'missing'}"
    ]


def test_unknown_keys_are_tolerated(real_snapshot_file: Path) -> None:
    data = json.loads(real_snapshot_file.read_text())
    data["future_section"] = {"x": 1}
    data["interpreter"]["new_field"] = True
    assert snapshot_from_dict(data).interpreter.executable == data["interpreter"]["executable"]


def test_a_snapshot_without_failed_imports_loads_and_one_with_them_round_trips(
    real_snapshot_file: Path,
) -> None:
    data = json.loads(real_snapshot_file.read_text())
    data["imports"].pop("failed", None)  # as an older probe wrote it
    assert snapshot_from_dict(data).imports.failed == ()
    entry = {"module": "redis", "phase": "conftest", "file": "/p/conftest.py", "line": 3}
    data["imports"]["failed"] = [dict(entry, importer="conftest", in_project=True)]
    loaded = snapshot_from_dict(data)
    assert loaded.imports.failed[0].module == "redis"
    assert snapshot_from_dict(snapshot_to_dict(loaded)) == loaded
    data["imports"]["failed"] = [dict(entry, phase="later")]
    with pytest.raises(SnapshotError, match=r"snapshot\.imports\.failed\[0\]\.phase: 'later' is not one of"):
        snapshot_from_dict(data)


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("DB_PASSWORD", True),
        ("GITHUB_TOKEN", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("API_KEY", True),
        ("GOOGLE_APPLICATION_CREDENTIALS", True),
        ("PWD", False),
        ("OLDPWD", False),
        ("SSH_AUTH_SOCK", False),
        ("PYTHONHASHSEED", False),
        ("UNIT_TESTS", False),
        ("BROKER_URL", False),
        ("KEYBOARD_LAYOUT", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/%2F", "amqp://guest:***@127.0.0.1:5672/%2F"),
        ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
        ("amqp://127.0.0.1:5672", "amqp://127.0.0.1:5672"),
        ("https://h/x?token=abc&x=1", "https://h/x?token=***&x=1"),
        ("use ghp_abcdefghijklmnopqrstuvwxyz0123 now", "use *** now"),
        ("AKIAABCDEFGHIJKLMNOP", "***"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_redact_value_and_fingerprints() -> None:
    assert redact_value("MY_TOKEN", "CANARY456") == ("***", True)
    assert redact_value("BROKER_URL", "amqp://u:p@h/") == ("amqp://u:***@h/", True)
    assert redact_value("UNIT_TESTS", "1") == ("1", False)
    key = b"k" * 32
    assert fingerprint(key, "a") == fingerprint(key, "a")
    assert fingerprint(key, "a") != fingerprint(key, "b")
    assert fingerprint(b"x" * 32, "a") != fingerprint(key, "a")
