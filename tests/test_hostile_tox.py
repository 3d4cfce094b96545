"""A hostile project through real ``tox --broker-audit`` with every format (issue 13).

Canary secrets sit in every place a value can hide: variables passed to tox (by secret-looking
names the probe used to miss, a bearer header, a Slack webhook, a PEM key under a harmless
name, a multi-host URL), the tox command (``--api-secret VALUE``, ``--db-password=VALUE``,
``-o db_url=postgresql://app:PW@…``), a ``.pth`` line of the env, and a collection error's
message. A variable carries CI runner commands and terminal escapes. None of the canaries
may reach stdout, stderr or any artefact, and no line of the audit's output may be a command
a GitHub runner or an Azure agent acts on, apart from the annotations the github and azure
formats print on purpose.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from _runners import azure_command, github_command, physical_lines
from helpers import run, write_tree

pytestmark = pytest.mark.slow

C = "CANARYzq"  # every secret below contains it

SHELL = {
    "DB_PASSWORD": f"{C}dbpw0001",  # passed into the env; the collection error quotes it
    "MYSQL_PWD": f"{C}mysql001",
    "DB_CREDS": f"{C}creds001",
    "AUTHORIZATION_HEADER": f"Bearer {C}auth0001",
    "SLACK_HOOK": f"https://hooks.slack.com/services/T000/B000/{C}hook01",
    "DEPLOY_MATERIAL": f"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk{C}pem001\n"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END OPENSSH PRIVATE KEY-----",
    "CACHE_URL": f"redis://:p@{C}redis01@cache:6379/0",
    "QUEUE_URL": f"amqp://u:x{C}amqp01@h1,u2:{C}amqp02@h2/vh",
    "PR_BODY": "fixes it\n::error::INJECTED-GH\n##vso[task.setvariable variable=X]INJECTED-AZ\n"
    "\x1b]0;INJECTED-OSC\x07\x1b[2J##[error]INJECTED-V1",
}

TOX_INI = """
[tox]
env_list = py

[testenv]
package = skip
deps = pytest
pass_env = DB_PASSWORD
commands_pre = python make_pth.py
commands = pytest tests -q -rN --tb=no {posargs}
"""

MAKE_PTH = """
import sysconfig, pathlib
line = 'import os; os.environ.setdefault("X_TOKEN", "CANARYzqpth00001")\\n'
pathlib.Path(sysconfig.get_paths()["purelib"], "zz_hostile.pth").write_text(line)
"""

CONFTEST = """
def pytest_addoption(parser):
    parser.addoption("--api-secret")
    parser.addoption("--db-password")
"""

TEST_BROKEN = """
import os
if os.environ.get("TOX_ENV_NAME"):  # under tox only: a difference the audit reports
    raise RuntimeError("cannot log in as app with " + os.environ["DB_PASSWORD"] + " token=CANARYzqcoll0001")

def test_ok():
    pass
"""

POSARGS = (
    "--api-secret",
    f"{C}flag0001",
    f"--db-password={C}flag0002",
    "-o",
    f"db_url=postgresql://app:{C}pg01@db/app",
)
#: tox echoes each command it runs and how it ended (``py: commands[0]> pytest … --api-secret
#: VALUE``, ``py: exit 2 (…) … pytest …``): tox's own lines, not the audit's, left out of the
#: stdout check. (The real run is quiet: ``-q -rN --tb=no`` keeps pytest from printing the
#: collection error; a probe that printed it would be caught.)
_TOX_ECHO = re.compile(r"^\S+: (commands(_pre|_post)?\[\d+\]> |exit -?\d+ \()")


def _shell() -> dict[str, str]:
    keep = ("HOME", "LANG", "TMPDIR", "PATH")
    env = {
        k: v
        for k, v in os.environ.items()
        if k in keep or k.startswith(("PIP_", "UV_", "VIRTUALENV_", "XDG_"))
    }
    env.update(SHELL)
    env["GITHUB_ACTIONS"] = "true"  # the CI formats are added as they would be in CI
    return env


def test_no_canary_and_no_runner_command_leaves_a_real_tox_run(tmp_path: Path) -> None:
    project = write_tree(
        tmp_path / "proj",
        {
            "tox.ini": TOX_INI,
            "make_pth.py": MAKE_PTH,
            "conftest.py": CONFTEST,
            "tests/test_broken.py": TEST_BROKEN,
        },
    )
    proc = run(
        [
            sys.executable,
            "-m",
            "tox",
            "-v",
            "--broker-audit",
            f"--broker-audit-baseline={sys.executable}",
            "--broker-audit-format=terminal,markdown,json,github,azure,gitlab,sarif",
            "--",
            *POSARGS,
        ],
        cwd=project,
        env=_shell(),
        check=False,
        timeout=600,
    )
    out_dir = project / ".tox" / "py" / "broker-audit"
    artefacts = {p.name: p.read_text(encoding="utf-8") for p in sorted(out_dir.iterdir())}
    assert {"report.json", "report.md", "baseline.json", "target.json", "report.sarif"} <= set(artefacts)
    assert "gl-code-quality-report.json" in artefacts
    target = json.loads(artefacts["target.json"])
    # The canaries did reach the audit (else this proves nothing): redacted where they were.
    assert (
        "--api-secret *** --db-password=*** -o db_url=postgresql://app:***@db/app"
        in (target["meta"]["source"]["description"])
    )
    errors = target["pytest"]["collection_errors"]
    assert [e["message"] for e in errors] == ["E   RuntimeError: cannot log in as app with *** token=***"]
    assert 'os.environ.setdefault(\\"X_TOKEN\\", \\"***\\")' in artefacts["target.json"]  # the .pth line

    ours = [line for line in physical_lines(proc.stdout) if not _TOX_ECHO.match(line)]
    for name, text in {"stdout": "\n".join(ours), "stderr": proc.stderr, **artefacts}.items():
        assert C not in text, f"{name}: {text[text.find(C) - 200 : text.find(C) + 60]!r}"
        assert "INJECTED" not in text or name != "stdout" or "\x1b]0;" not in text
    annotations = [
        line for line in ours if "broker audit (py)" in line or line.startswith("##vso[task.logissue")
    ]
    assert annotations, proc.stdout[-3000:]
    for line in ours:
        if line in annotations:
            continue
        assert github_command(line) is None, line
        assert azure_command(line) is None, line
        assert "\x1b]" not in line, line
    assert all(github_command(line) in ("error", "warning", "notice", None) for line in annotations)
