"""Shared helpers for tests that build real virtual environments and fixture projects.

Real parts, not mocks: venvs are made with the real virtualenv / ``uv venv`` / ``venv``,
packages are installed with the real uv or pip (uv's cache makes repeated installs cheap).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["CLI", "UV", "bin_dir", "install", "make_venv", "run", "write_tree"]

_HERE = Path(sys.executable).parent
UV = shutil.which("uv", path=str(_HERE)) or shutil.which("uv") or "uv"
#: The broker-audit CLI of the package under test, independent of PATH.
CLI = (sys.executable, "-m", "tox_broker_audit")


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing output; on unexpected failure show what it printed."""
    proc = subprocess.run(
        [str(c) for c in cmd],
        cwd=None if cwd is None else str(cwd),
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        msg = (
            f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
            f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"
        )
        raise AssertionError(msg)
    return proc


def bin_dir(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin")


def make_venv(dest: Path, *, creator: str = "virtualenv", python: str | None = None) -> Path:
    """Create a venv with ``creator`` (virtualenv | uv | venv); return its interpreter path."""
    python = python or sys.executable
    if creator == "virtualenv":
        run([sys.executable, "-m", "virtualenv", "-q", "-p", python, dest])
    elif creator == "uv":
        run([UV, "venv", "-q", "--python", python, dest])
    elif creator == "venv":
        run([python, "-m", "venv", "--without-pip", dest])
    else:  # pragma: no cover - test bug
        raise ValueError(creator)
    return bin_dir(dest) / "python"


def install(python: Path, *requirements: str, editable: Path | None = None) -> None:
    """Install into the venv of ``python`` with uv (works for pip-less envs too)."""
    args: list[str | os.PathLike[str]] = [UV, "pip", "install", "-q", "--python", python, *requirements]
    if editable is not None:
        args += ["-e", editable]
    run(args)


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``{relative path: text}`` under ``root`` (text is dedented)."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def tox_shell(**extra: str) -> dict[str, str]:
    """A plain shell for a real tox run: HOME, LANG, TMPDIR, PATH and pip/virtualenv settings."""
    keep = ("HOME", "LANG", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep or k.startswith(("PIP_", "VIRTUALENV_", "XDG_"))}
    env["PATH"] = os.environ.get("PATH", "")
    env.update(extra)
    return env


def run_tox(project: Path, *args: str, timeout: float = 300, **extra: str) -> tuple[int, str]:
    """Real ``python -m tox ARGS`` in ``project`` with :func:`tox_shell`; (exit code, output)."""
    proc = run(
        [sys.executable, "-m", "tox", *args],
        cwd=project,
        env=tox_shell(**extra),
        check=False,
        timeout=timeout,
    )
    return proc.returncode, proc.stdout + proc.stderr
