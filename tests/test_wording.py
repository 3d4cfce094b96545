"""Structured fixes, said the way each front door's user needs them."""

from __future__ import annotations

import pytest

from tox_broker_audit import Fix, Location, ToxFacts
from tox_broker_audit.diagnosis.wording import nox_wording, tox_wording

TOX = ToxFacts(ini_path="/p/tox.ini", ini_section="testenv:py312", section_line=7)

CASES = [
    (
        Fix("pass_env", "UNIT_TESTS", "1"),
        "add  pass_env = UNIT_TESTS   (or set_env = UNIT_TESTS=1)",
        'nox passes your environment: set session.env["UNIT_TESTS"] in the session '
        "(or stop removing/overriding it)",
    ),
    (Fix("pass_env", "API_KEY"), "add  pass_env = API_KEY", None),
    (
        Fix("set_env", "X"),
        "add  set_env = X=…   (or install/run whatever sets it locally)",
        'set session.env["X"] in the session',
    ),
    (
        Fix("unset_env", "X"),
        "remove X from set_env (or set the same value locally)",
        'do not set session.env["X"] in the session',
    ),
    (
        Fix("override_env", "X"),
        "set_env overrides X: remove it or give it the local value",
        'session.env["X"] overrides it: remove it or give it the local value',
    ),
    (Fix("add_dep", "pytest-env"), "add pytest-env to deps", 'session.install("pytest-env") in the session'),
    (
        Fix("pin_dep", "attrs", "23.1"),
        "pin attrs==23.1 in deps (or upgrade locally)",
        'session.install("attrs==23.1") in the session (or upgrade locally)',
    ),
    (
        Fix("editable", value="match"),
        "package = editable   (to match a local `pip install -e .`)",
        'session.install("-e", ".") in the session (to match a local `pip install -e .`)',
    ),
    (
        Fix("python_path", "PYTHONPATH", "src"),
        "add  set_env = PYTHONPATH={toxinidir}/src   (or `pythonpath = src` in the pytest config)",
        'set session.env["PYTHONPATH"] = "src" in the session (or `pythonpath = src` in the pytest config)',
    ),
    (
        Fix("editable", value="rebuild"),
        "package = editable   (or rebuild: the installed copy differs from your source tree)",
        None,
    ),
]


@pytest.mark.parametrize(("fix", "tox_words", "nox_words"), CASES)
def test_each_action_in_tox_and_nox_words(fix: Fix, tox_words: str, nox_words: str | None) -> None:
    assert tox_wording(fix, TOX) == (f"tox.ini:7 [testenv:py312]  {tox_words}", Location("/p/tox.ini", 7))
    if nox_words is not None:
        assert nox_wording(fix, TOX) == (f"noxfile.py: {nox_words}", None)


def test_without_tox_facts_the_section_is_generic() -> None:
    assert tox_wording(Fix("add_dep", "x"), None) == ("tox: under [testenv] add x to deps", None)
    no_file = ToxFacts(ini_section="testenv")
    assert tox_wording(Fix("add_dep", "x"), no_file) == ("[testenv]  add x to deps", None)


@pytest.mark.parametrize(
    "fix",
    [
        Fix("pass_env", "MYSQL_PWD", "CANARYx9"),  # a secret name the probe used to miss
        Fix("set_env", "SLACK_HOOK"),
        Fix("pass_env", "BROKER_URL", "amqp://u:CANARYx9@h/"),  # a value redaction would change
    ],
)
def test_a_fix_never_carries_a_secret_value(fix: Fix) -> None:
    """A secret is passed in (``pass_env = X``), never written into tox.ini (``set_env = X=…``)."""
    text, _ = tox_wording(fix, TOX)
    assert "CANARYx9" not in text
    assert text.endswith(f"add  pass_env = {fix.subject}")
    assert "CANARYx9" not in nox_wording(fix, None)[0]
