"""PEP 503 names have one rule: the host uses ``packaging.utils.canonicalize_name`` and the
probe (stdlib only, inside the audited interpreter) its own copy, which must agree."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from packaging.utils import canonicalize_name

from _snapshot_factory import make_snapshot, plugin
from tox_broker_audit.snapshot.capture import PROBE_SCRIPT
from tox_broker_audit.verify.interventions import derive

TRICKY = [
    "Foo.Bar__baz",
    "zope.interface",
    "PyYAML",
    "pytest_randomly",
    "Notify_SVC",
    "A-_.-b",
    "typing-extensions",
    "ruamel.yaml.clib",
    "x",
    "UPPER.lower_Mixed-Case",
]


def _probe_canonical(names: list[str]) -> list[str]:
    """The probe's ``canonical`` as the probe runs it: ``python -S``, its own directory first."""
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(PROBE_SCRIPT.parent)!r})\n"
        "from _tba_dists import canonical\n"
        "print(json.dumps([canonical(name) for name in json.loads(sys.argv[1])]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code, json.dumps(names)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_the_probe_and_packaging_canonicalise_alike() -> None:
    assert _probe_canonical(TRICKY) == [canonicalize_name(name) for name in TRICKY]
    assert canonicalize_name("Foo.Bar__baz") == "foo-bar-baz"


def test_intervention_keys_use_packagings_names() -> None:
    baseline = make_snapshot(
        plugins=[plugin("randomly", "pytest_randomly", distribution="Pytest_Randomly.Extra")]
    )
    target = make_snapshot()
    keys = {key for i in derive(baseline, target, None, "py") for key in i.keys}
    assert ("plugin", "pytest-randomly-extra") in keys
    assert ("dist", "pytest-randomly-extra") in keys


#: Ways a module would canonicalise a name on its own.
_OWN_RULES = re.compile(
    r"""\[-_\.\]\+|\[-_\.\]|replace\(["']_["'], ["']-["']\)|replace\(["']-["'], ["']_["']\)"""
)


def test_no_host_module_has_its_own_rule() -> None:
    package = Path(__file__).resolve().parents[1] / "src" / "tox_broker_audit"
    own = [
        f"{path.relative_to(package)}:{n}"
        for path in sorted(package.rglob("*.py"))
        if "probe" not in path.relative_to(package).parts
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _OWN_RULES.search(line)
    ]
    assert own == []
