"""The probe's distributions scan (``probe/_tba_dists.py``) on hand-made ``*.dist-info``
directories, run as the probe runs it (``python -S``, its own directory first): METADATA's
headers read once, only the files a dist-info lists opened, and one odd dist never costs the
others."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tox_broker_audit.snapshot.capture import PROBE_SCRIPT


def _scan(site: Path) -> list[dict[str, Any]]:
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(PROBE_SCRIPT.parent)!r})\n"
        "from _tba_dists import distributions\n"
        "print(json.dumps(distributions([sys.argv[1]])))\n"
    )
    out = subprocess.run([sys.executable, "-S", "-c", code, str(site)], capture_output=True, check=True)
    found: list[dict[str, Any]] = json.loads(out.stdout)
    return found


def _dist(site: Path, name: str, files: dict[str, bytes]) -> None:
    info = site / f"{name}.dist-info"
    info.mkdir(parents=True)
    for file_name, content in files.items():
        (info / file_name).write_bytes(content)


def test_headers_are_read_once_and_odd_files_cost_nothing_else(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    source = tmp_path / "src" / "good"
    _dist(
        site,
        "good-1.0",
        {
            "METADATA": (
                b"Metadata-Version: 2.1\nName: Good_Pkg\nVersion: 1.0\n"
                b"Summary: a summary\n  folded onto a second line\n"
                b"Requires-Dist: alpha>=1\n"
                b'Requires-Dist: beta[x]>=1 ; extra == "test"\n'
                b'Requires-Dist: Gamma.Lib ; python_version >= "3.8"\n'
                b"\nName: not-a-header\nRequires-Dist: not-a-requirement\n"
            ),
            "top_level.txt": b"good\n",
            "INSTALLER": b"uv\n",
            "REQUESTED": b"",
            "direct_url.json": json.dumps({"url": source.as_uri(), "dir_info": {"editable": True}}).encode(),
        },
    )
    _dist(
        site,
        "latin-2.0",
        {  # an author's name in Latin-1, not UTF-8: the byte is lost, not the distribution
            "METADATA": b"Metadata-Version: 1.1\nName: latin\nVersion: 2.0\nAuthor: Jos\xe9\n"
            b"Description: old style\n        |Name: folded-into-the-description\n",
            "RECORD": b"latin/__init__.py,,\nlatin_helper.py,,\nlatin-2.0.dist-info/RECORD,,\n",
        },
    )
    _dist(site, "broken-0.1", {"RECORD": b""})  # no METADATA: not a distribution
    by_name = {d["name"]: d for d in _scan(site)}
    assert sorted(by_name) == ["good-pkg", "latin"]
    good, latin = by_name["good-pkg"], by_name["latin"]
    assert (good["raw_name"], good["version"], good["installer"], good["requested"]) == (
        "Good_Pkg",
        "1.0",
        "uv",
        True,
    )
    assert good["requires"] == ["alpha", "gamma-lib"]  # an extra's requirement says nothing
    assert (good["editable"], good["source_path"], good["top_level"]) == (True, str(source), ["good"])
    assert (latin["version"], latin["installer"], latin["requested"]) == ("2.0", None, False)
    assert latin["top_level"] == ["latin", "latin_helper"]
    assert latin["requires"] == []
    assert latin["location"] == good["location"] == str(site)
