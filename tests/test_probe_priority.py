"""A background probe (a baseline taken while the env's commands run) runs at a low CPU
priority; every other probe at the audit's own."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tox_broker_audit.snapshot._process import BACKGROUND_NICE, run_probe

pytestmark = pytest.mark.skipif(not hasattr(os, "setpriority"), reason="no setpriority here")

NICE = [sys.executable, "-c", "import os, time; time.sleep(0.2); print(os.nice(0))"]


@pytest.mark.parametrize("background", [False, True])
def test_background_probe_is_reniced(tmp_path: Path, background: bool) -> None:
    code, out, _err = run_probe(
        NICE, cwd=str(tmp_path), env=dict(os.environ), timeout=30, scratch=tmp_path, background=background
    )
    assert code == 0
    expected = min(19, os.nice(0) + BACKGROUND_NICE) if background else os.nice(0)
    assert int(out.strip()) == expected
