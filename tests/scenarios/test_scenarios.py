"""Real tox on small projects, each reproducing one cause of "passes locally, fails under tox".

For every ``tests/scenarios/<name>/scenario.toml`` the test copies ``project/`` to a temporary
directory, builds the local venv as the developer would (``local.install``, ``local/`` files,
an activated venv or a project ``.venv``), checks that plain pytest passes there, runs real
``tox --broker-audit`` with the developer's shell and checks that tox fails and that the top
finding of ``report.json`` names the expected code and subject and is ``confirmed`` by the verify
stage (``expect.verification`` says otherwise). A green scenario (``tox_fails = false``) must
pass under tox with no finding at warning or above and run no experiment, as a CI job
would run it: GitHub's annotations on (none above ``::notice``) and ``--broker-audit-fail-on=warning``.

Two marks record what the audit cannot do yet; both are ``xfail(strict=True)``, so a scenario
that starts passing fails the suite (XPASS) until its mark comes off:

* ``expect.known_mismatch = "reason"`` — the top finding is the wrong one (only
  ``TopFindingMismatch`` is expected; a missing confirmation still fails).
* ``expect.known_gap = "reason"`` — the audit cannot diagnose this case yet: any ``AuditGap``
  is expected — a wrong top finding, no finding at all, a top finding that is not verified
  as ``expect.verification`` says, an ``output_contains`` text missing, and every check of
  the audit's result added later (raise ``AuditGap`` for those, through ``_expect``).

The checks that the scenario itself reproduces the problem (plain pytest passes locally, tox
fails, the audit wrote report.json) raise a plain ``AssertionError`` under either mark: a
broken scenario is never an expected failure.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from helpers import UV, bin_dir, make_venv, run

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - tox depends on tomli there
    import tomli as tomllib

HERE = Path(__file__).parent

pytestmark = pytest.mark.slow


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    local: Mapping[str, Any]
    runner: str
    expect: Mapping[str, Any]

    @property
    def tox_fails(self) -> bool:
        return bool(self.expect.get("tox_fails", True))


def _load() -> list[Scenario]:
    scenarios = []
    for path in sorted(HERE.glob("*/scenario.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        runners = data.get("tox", {}).get("runner", "virtualenv")
        for runner in [runners] if isinstance(runners, str) else runners:
            scenarios.append(
                Scenario(path.parent.name, data["description"], data["local"], runner, data.get("expect", {}))
            )
    return scenarios


SCENARIOS = _load()

#: What survives from the test process into the developer's shell: nothing of pytest, xdist,
#: CI or this dev venv, only what a login shell on this machine would have.
_SHELL_KEEP = ("HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TMPDIR", "TZ")
_SHELL_PREFIXES = ("PIP_", "UV_", "VIRTUALENV_", "XDG_", "SSL_CERT", "REQUESTS_CA_BUNDLE")


def developer_shell(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _SHELL_KEEP or k.startswith(_SHELL_PREFIXES)}
    dev_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != dev_bin
    )
    env.update(extra)
    return env


def _site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def build_local_venv(scenario: Scenario, project: Path, outside: Path, shell: dict[str, str]) -> Path:
    """The developer's venv: returns its directory; activates it in ``shell`` if it lives outside."""
    local = scenario.local
    venv = outside / "virtualenvs" / scenario.name if local.get("venv") == "outside" else project / ".venv"
    python = make_venv(venv, creator=local.get("creator", "uv"))
    install = [arg.format(tox_broker_audit=HERE.parents[1]) for arg in local["install"]]
    run([UV, "pip", "install", "-q", "--python", python, *install], cwd=project, env={**os.environ})
    for dest, src in local.get("site_files", {}).items():
        shutil.copy(HERE / scenario.name / src, _site_packages(venv) / dest)
    if local.get("venv") == "outside":
        shell["VIRTUAL_ENV"] = str(venv)
        shell["PATH"] = f"{bin_dir(venv)}{os.pathsep}{shell['PATH']}"
    return venv


def _local_command(scenario: Scenario, venv: Path) -> list[str]:
    cmd = list(scenario.local.get("run", ["pytest"]))
    return [str(bin_dir(venv) / cmd[0]), *cmd[1:]]


def _broker_port_open() -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", 5672)) == 0


class AuditGap(AssertionError):
    """The audit's result is not the expected one (``known_gap`` expects any of these)."""


class TopFindingMismatch(AuditGap):
    """The top finding is not the expected one (``known_mismatch`` expects only this)."""


def _expect(condition: object, msg: str) -> None:
    """A check of the audit's result: ``known_gap`` may expect it to fail, never to be skipped."""
    if not condition:
        raise AuditGap(msg)


def _params() -> list[Any]:
    params = []
    for scenario in SCENARIOS:
        marks = []
        reason = scenario.expect.get("known_mismatch")
        if reason:  # a diagnosis ranking to fix: strict, so the fix shows up as XPASS
            marks.append(pytest.mark.xfail(strict=True, raises=TopFindingMismatch, reason=reason))
        gap = scenario.expect.get("known_gap")
        if gap:  # a capability the audit lacks: strict too, so the mark must come off once it passes
            assert not reason, f"{scenario.name}: known_mismatch and known_gap are exclusive"
            marks.append(pytest.mark.xfail(strict=True, raises=AuditGap, reason=f"known gap: {gap}"))
        name = scenario.name if scenario.runner == "virtualenv" else f"{scenario.name}-{scenario.runner}"
        params.append(pytest.param(scenario, id=name, marks=marks))
    return params


def _summary(report: Mapping[str, Any], limit: int = 6) -> str:
    rows = [f"{f['code']} {f['severity']} {f['subject']!r}: {f['title']}" for f in report["findings"][:limit]]
    return "\n".join(rows)


def _verified(report: Mapping[str, Any], limit: int = 6) -> str:
    rows = [f"{f['code']} {f['subject']!r}: {f['verification']}" for f in report["findings"][:limit]]
    return "\n".join(rows)


@pytest.mark.parametrize("scenario", _params())
def test_scenario(scenario: Scenario, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if scenario.tox_fails and _broker_port_open():
        pytest.skip("something listens on 127.0.0.1:5672: the scenarios need a refused connection there")
    tox = [sys.executable, "-m", "tox"]
    if scenario.runner == "uv":
        tox = [request.getfixturevalue("tox_uv_python"), "-m", "tox"]
    started = time.monotonic()
    project = tmp_path / scenario.name
    shutil.copytree(HERE / scenario.name / "project", project)
    shell = developer_shell(scenario.local.get("shell", {}))
    venv = build_local_venv(scenario, project, tmp_path, shell)

    local = run(_local_command(scenario, venv), cwd=project, env=shell, check=False)
    assert local.returncode == 0, (
        f"plain pytest must pass locally:\n{local.stdout[-3000:]}{local.stderr[-2000:]}"
    )

    args = ["--broker-audit", "-e", "py"]
    if scenario.tox_fails:  # the loop closed (issue 22): a confirmed config cause is written, re-run
        args.append("--broker-audit-fix=apply")
    tree = _tree(project)
    if not scenario.tox_fails:
        # A green env is quiet in CI too: GitHub's annotations are added, and the gate is on
        # (a finding at warning or above would fail tox, which must pass).
        shell["GITHUB_ACTIONS"] = "true"
        args.append("--broker-audit-fail-on=warning")
    if scenario.local.get("baseline") == "snapshot-python-m":
        baseline = tmp_path / "local-baseline.json"
        cli = [sys.executable, "-m", "tox_broker_audit", "snapshot", "--python", str(venv)]
        run([*cli, "--invocation", "python-m", "--cwd", project, "-o", baseline], cwd=project, env=shell)
        args.append(f"--broker-audit-baseline={baseline}")
    t_tox = time.monotonic()
    proc = run([*tox, *args], cwd=project, env=shell, check=False)
    print(f"tox took {time.monotonic() - t_tox:.1f} s; setup before tox {t_tox - started:.1f} s")
    output = f"{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    report_file = project / ".tox" / "py" / "broker-audit" / "report.json"
    assert report_file.is_file(), f"no report.json; tox said:\n{output}"
    report = json.loads(report_file.read_text(encoding="utf-8"))
    print(f"{scenario.name} ({scenario.runner}): {time.monotonic() - started:.1f} s\n{_summary(report)}")

    for text in scenario.expect.get("output_contains", []):
        _expect(text in proc.stdout + proc.stderr, f"{text!r} not in tox's output:\n{output}")
    if not scenario.tox_fails:
        assert proc.returncode == 0, f"a green scenario must pass under tox:\n{output}"
        loud = [f for f in report["findings"] if f["severity"] in ("warning", "error")]
        _expect(not loud, f"a green env gets no finding at warning or above:\n{_summary(report, 20)}")
        checked = [f["code"] for f in report["findings"] if f["verification"] is not None]
        _expect(checked == [], f"a green env runs no experiment: {checked}")
        loud_lines = [line for line in proc.stdout.splitlines() if line.startswith(("::error", "::warning"))]
        _expect(loud_lines == [], f"a green env annotates nothing above a notice in CI:\n{loud_lines}")
        return
    assert report["outcome"] == "failed", f"the env's commands were expected to fail:\n{output}"
    _expect(report["findings"], f"no finding at all; tox said:\n{output}")
    top = report["findings"][0]
    expected = (scenario.expect["code"], scenario.expect["subject"].format(project=project))
    if (top["code"], top["subject"]) != expected:
        msg = f"expected top finding {expected}, got:\n{_summary(report)}"
        raise TopFindingMismatch(msg)
    # The verify stage re-ran the env with the cause undone and saw the local run's result.
    status = (top["verification"] or {}).get("status")
    wanted = scenario.expect.get("verification", "confirmed")
    said = "\n".join(line for line in proc.stdout.splitlines() if line.startswith("broker-audit:"))
    _expect(
        status == wanted,
        f"top finding {status or 'unverified'}, expected {wanted}:\n{_verified(report)}\n{said}",
    )
    # The failing tests decided: they pass with the cause undone (issue 19), unless the scenario
    # says the collection must (a target that cannot run tests).
    oracle = (top["verification"] or {}).get("oracle")
    wanted_oracle = scenario.expect.get("oracle", "tests")
    _expect(
        oracle == wanted_oracle,
        f"decided by {oracle}, expected {wanted_oracle}:\n{_verified(report)}\n{said}",
    )
    _check_fix(report, proc, project=project, tree=tree, plain_tox=[*tox, "-e", "py"], shell=shell)


#: What tox, pytest and the packaging write into a project while it runs: not the user's files.
_RUN_OUTPUT = (".tox", ".venv", "__pycache__", ".pytest_cache", "build", "dist", ".coverage")


def _tree(project: Path) -> dict[str, bytes]:
    """Every file of the project the user wrote, by relative path (what a fix may not touch)."""
    files = {}
    for path in sorted(project.rglob("*")):
        rel = path.relative_to(project)
        if path.is_file() and not any(p in _RUN_OUTPUT or p.endswith(".egg-info") for p in rel.parts):
            files[rel.as_posix()] = path.read_bytes()
    return files


def _applied(text: str, edits: list[Mapping[str, Any]]) -> str:
    """``text`` with report.json's ``edits`` (whole lines ``line``..``end_line``) replaced."""
    lines = text.splitlines(keepends=True)
    for edit in sorted(edits, key=lambda e: e["line"], reverse=True):
        assert "".join(lines[edit["line"] - 1 : edit["end_line"]]) == edit["before"], edit
        lines[edit["line"] - 1 : edit["end_line"]] = [edit["after"]]
    return "".join(lines)


def _check_fix(
    report: Mapping[str, Any],
    proc: Any,
    *,
    project: Path,
    tree: Mapping[str, bytes],
    plain_tox: list[str],
    shell: Mapping[str, str],
) -> None:
    """``--broker-audit-fix=apply``: the confirmed causes' config change, and nothing else, is in
    the file, byte for byte as report.json's ``edits`` say; tox passed and a plain tox passes
    too. A cause that is not a config change leaves the tree as it was and tox failing."""
    output = f"{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
    edits: dict[str, list[Mapping[str, Any]]] = {}
    for finding in report["findings"]:
        for edit in finding.get("edits") or ():  # two findings with one cause carry the same edit
            same = edits.setdefault(os.path.relpath(edit["path"], project), [])
            if edit not in same:
                same.append(edit)
    after = _tree(project)
    changed = sorted(rel for rel in {*tree, *after} if tree.get(rel) != after.get(rel))
    if not edits:
        _expect(changed == [], f"no config change was confirmed, yet files changed: {changed}")
        _expect(proc.returncode != 0, f"nothing was fixed, tox must still fail:\n{output}")
        confirmed = [f for f in report["findings"] if (f["verification"] or {}).get("status") == "confirmed"]
        said = (
            "fix: not a change of the tox config, not written: " if confirmed else "fix: no confirmed cause"
        )
        _expect(said in proc.stdout, f"one line says why nothing was written ({said!r}):\n{output}")
        print("fix: none written (not a config change)")
        return
    _expect(
        changed == sorted(edits),
        f"the fix changed {changed}, its edits name {sorted(edits)}: {list(edits.values())}\n{output}",
    )
    for rel, hunks in edits.items():
        wanted = _applied(tree[rel].decode("utf-8"), hunks)
        _expect(after[rel].decode("utf-8") == wanted, f"{rel} differs from its edits:\n{after[rel]!r}")
    fixed = [line for line in proc.stdout.splitlines() if "fixed: " in line]
    _expect(proc.returncode == 0 and fixed, f"the fix was written, tox must pass with it:\n{output}")
    plain = run(plain_tox, cwd=project, env=dict(shell), check=False)
    _expect(plain.returncode == 0, f"a plain tox must pass with the fix:\n{plain.stdout[-3000:]}")
    print(f"fix: written into {', '.join(sorted(edits))} and a plain tox passes")
