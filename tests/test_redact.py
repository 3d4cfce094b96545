"""Secrets by value, by name and by shape (probe/_tba_redact.py, shared by probe and host).

Every case here is a canary that leaked before (issue 13): the canary text must not survive
:func:`redact_text`. Pure unit tests, no venvs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tox_broker_audit.probe import _tba_redact as redact
from tox_broker_audit.probe._tba_redact import is_secret_name, redact_args, redact_text, redact_value

C = "CANARYx9"  # every leaked value below contains this

PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    f"MIIEpAIBAAKCAQEA{C}q1w2e3r4t5y6u7i8o9p0\n"
    "a1s2d3f4g5h6j7k8l9z0x1c2v3b4n5m6\n"
    "-----END RSA PRIVATE KEY-----"
)

LEAKS = [
    # URL userinfo with any characters: parsed up to the last "@", never cut short
    (f"redis://:p@{C}@h:6379/0", "redis://:***@h:6379/0"),
    (f"postgresql://app:a/{C}@db/app", "postgresql://app:***@db/app"),
    (f"amqp://u:x@h1,u2:{C}@h2/vh", None),
    (f"-o db_url=postgresql://app:{C}@db/app", "-o db_url=postgresql://app:***@db/app"),
    # query and fragment secrets
    (f"https://h/x?secret_key={C}&page=2", "https://h/x?secret_key=***&page=2"),
    (f"https://h/x#access_token={C}", "https://h/x#access_token=***"),
    # PEP 610 direct_url: a bare token as the user
    (f"https://{C}abcdefgh@github.com/org/x.git", "https://***@github.com/org/x.git"),
    (f"git+https://{C}@gitlab.example.com/x.git", "git+https://***@gitlab.example.com/x.git"),
    # auth headers
    (f"Authorization: Bearer {C}.abc.def", "Authorization: Bearer ***"),
    (f"curl -H 'Authorization: Basic {C}dXNlcjpwYXNz'", None),
    (f"AUTHORIZATION_HEADER='Bearer {C}'", "AUTHORIZATION_HEADER='***'"),
    # JWT
    (f"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx{C}fQ.SflKxwRJSMeKKF2QT4fwpM", "jwt ***"),
    # well-known token shapes
    (f"ghp_{C}abcdefghijklmnopqrstu", "***"),
    (f"github_pat_11ABCDEFG0{C}_abcdefghijklmnop", "***"),
    (f"glpat-{C}abcdefghijkl", "***"),
    (f"xoxb-123456-{C}-abcdef", "***"),
    ("AKIAIOSFODNN7EXAMPLE", "***"),
    (f"sk_live_{C}abcdef", "***"),
    # webhooks
    (f"SLACK=https://hooks.slack.com/services/T000/B000/{C}", "SLACK=https://hooks.slack.com/services/***"),
    (f"https://discord.com/api/webhooks/123/{C}", "https://discord.com/api/webhooks/***"),
    # a PEM block across lines
    (f"key:\n{PEM}\nafter", "key:\n***\nafter"),
    (PEM.rsplit("\n", 1)[0], "***"),  # cut off before its END line
    # --flag VALUE and --flag=VALUE
    (f"pytest --api-secret {C} tests", "pytest --api-secret *** tests"),
    (f"pytest --db-password={C} tests", "pytest --db-password=*** tests"),
    (f"--api-key={{env:API_KEY:{C}}}", "--api-key=***"),
    # .pth exec lines and Python source
    (
        f'import os; os.environ.setdefault("X_TOKEN","{C}")',
        'import os; os.environ.setdefault("X_TOKEN","***")',
    ),
    (f"import os; os.environ['DB_PASSWORD'] = '{C}'", "import os; os.environ['DB_PASSWORD'] = '***'"),
    (f'{{"password": "{C}", "user": "app"}}', '{"password": "***", "user": "app"}'),
    # a collection error's message text
    (f"RuntimeError: could not log in with MYSQL_PWD={C} as app", None),
]


@pytest.mark.parametrize(("text", "expected"), LEAKS, ids=[f"leak{i}" for i in range(len(LEAKS))])
def test_the_canary_never_survives(text: str, expected: str | None) -> None:
    shown = redact_text(text)
    assert C not in shown
    if expected is not None:
        assert shown == expected


@pytest.mark.parametrize(
    "text",
    [
        "amqp://guest@127.0.0.1:5672/%2F",  # a broker user alone stays visible
        "ssh://git@github.com/org/x.git",
        "https://example.com/a@b",  # an "@" in the path is no userinfo
        "tests/test_api.py::test_signup[KeyError]",
        "KeyError: 'APP_SECRET'",
        "tox.ini:4 [testenv]  add  pass_env = UNIT_TESTS",
        "PWD=/home/u/project OLDPWD=/home/u",
        "-o db_url=sqlite:///x.db",
    ],
)
def test_what_is_not_secret_stays(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(
    "name", ["MYSQL_PWD", "DB_CREDS", "AUTHORIZATION_HEADER", "SLACK_HOOK", "--api-secret", "sentry_dsn"]
)
def test_secret_names_missed_before(name: str) -> None:
    assert is_secret_name(name)
    assert redact_value(name, C) == ("***", True)


@pytest.mark.parametrize("name", ["PWD", "OLDPWD", "pass_env", "GIT_AUTHOR_NAME", "KEYBOARD", "PATH"])
def test_names_that_are_not_secret(name: str) -> None:
    assert not is_secret_name(name)


def test_flag_and_value_in_two_arguments() -> None:
    args = ["pytest", "--api-secret", C, "--db-password", C, "-k", "signup", f"--token={C}"]
    assert redact_args(args) == [
        "pytest",
        "--api-secret",
        "***",
        "--db-password",
        "***",
        "-k",
        "signup",
        "--token=***",
    ]


@pytest.fixture
def learnt() -> Iterator[None]:
    redact.learn({"MY_APP_PASSPHRASE": f"hunter{C}", "DATABASE_URL": f"postgresql://app:pw{C}@db/app"})
    yield
    redact.forget()


@pytest.mark.usefixtures("learnt")
def test_values_learnt_from_the_environment_are_hidden_anywhere() -> None:
    message = f"OperationalError: login failed (password 'hunter{C}') and again pw{C}"
    assert C not in redact_text(message)
    redact.forget()
    assert C in redact_text(message)  # only by value: nothing else says it is a secret


def test_the_output_cleaner_forgets_its_memo_when_what_is_hidden_changes() -> None:
    """``clean`` remembers its results (the pipeline cleans the same text in every format):
    a value learnt after a text was cleaned is hidden the next time, and shown again once
    forgotten."""
    from tox_broker_audit._sanitize import clean

    message = f"connect failed with hunter{C}"
    assert clean(message) == message
    redact.learn({"MY_APP_PASSPHRASE": f"hunter{C}"})
    try:
        assert C not in clean(message)
    finally:
        redact.forget()
    assert clean(message) == message


# --- linear time --------------------------------------------------------------------------
# These inputs are each 1 MB. The quadratic implementation this replaced (a scheme pattern
# re-scanned from every letter, a JWT pattern from every "eyJ") needed ~1.5 s for 40 kB and
# ~39 s for 200 kB: on 1 MB it would run for many minutes, so this test finishing at all (no
# timing assertion) is the check. The algorithm is linear by construction: every pattern can
# only start where a run of its own characters starts.
MB = 1_000_000

ADVERSARIAL = {
    "letters": "a" * MB,  # scheme-like run, no "://"
    "schemes": "a://" * (MB // 4),
    "at-signs": "amqp://" + "u:p@" * (MB // 4),
    "jwt-prefixes": "eyJ" * (MB // 3),
    "names": "password " * (MB // 9),
    "unclosed-quotes": 'password="a ' * (MB // 12),
    "flags": "--api-secret " * (MB // 13),
    "pem-begins": "-----BEGIN " * (MB // 11),
    "pem-label": "-----BEGIN " + "PRIVATE KEY" * (MB // 11),  # was quadratic in the label
    "pem-end": "-----BEGIN PRIVATE KEY-----" + "-----END A" * (MB // 10),
    "quoted-pairs": 'a="b' * (MB // 4),
    "query": "?token=" * (MB // 7),
    "colons": "x:" * (MB // 2),
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_a_megabyte_of_adversarial_text_is_redacted(name: str) -> None:
    text = ADVERSARIAL[name]
    out = redact_text(text)
    assert out  # it finished; and redacting again changes nothing more
    assert redact_text(out) == out


def test_a_path_is_not_learnt_as_a_secret_value() -> None:
    """``GOOGLE_APPLICATION_CREDENTIALS`` names a file: hiding that path everywhere would hide
    the project's own paths (test arguments, sys.path), not a secret."""
    redact.learn({"GOOGLE_APPLICATION_CREDENTIALS": "/home/u/project/creds.json"})
    try:
        assert redact_text("/home/u/project/creds.json") == "/home/u/project/creds.json"
    finally:
        redact.forget()
