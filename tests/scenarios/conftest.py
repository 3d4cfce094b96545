"""The scenario suite's fixtures. The fixture projects in the sub-directories are data, not tests.

Each ``<name>/`` holds ``scenario.toml`` (the local set-up and the expected top finding),
``project/`` (copied to a temporary directory for every run) and optionally ``local/``
(files a developer has in their own venv only, such as a ``sitecustomize.py``).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import pytest
from filelock import FileLock

from helpers import UV, run

HERE = Path(__file__).parent

# The fixture projects have their own conftest.py and test files: never collect them here.
collect_ignore = sorted(p.name for p in HERE.iterdir() if p.is_dir() and (p / "scenario.toml").is_file())


@pytest.fixture(scope="session")
def tox_uv_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A venv with this tox, tox-uv and this package, shared by all xdist workers of the run.

    tox-uv is not in the development venv on purpose: once installed, it becomes the default
    runner of every tox env, and most scenarios must use tox's own virtualenv runner.
    """
    import tox

    shared = tmp_path_factory.getbasetemp().parent  # the same for every xdist worker
    root = HERE.parents[1]
    # One per checkout: the directory is shared by every pytest run of this user, and a venv with
    # another worktree's package installed editable would run that worktree's code under tox.
    name = "tox-uv-venv-" + hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:10]
    venv = shared / name
    python = venv / "bin" / "python"
    with FileLock(str(shared / f"{name}.lock")):
        if not (venv / ".ready").is_file():
            shutil.rmtree(venv, ignore_errors=True)
            run([UV, "venv", "-q", "--python", sys.executable, venv])
            run(
                [
                    UV,
                    "pip",
                    "install",
                    "-q",
                    "--python",
                    python,
                    f"tox=={tox.__version__}",
                    "tox-uv",
                    "-e",
                    root,
                ]
            )
            (venv / ".ready").write_text("")
    return str(python)
