"""Redaction of secrets: the one implementation used by the probe *and* by every renderer.

Stdlib only and Python 3.9 compatible: this file is executed inside the audited interpreter
(as the top-level module ``_tba_redact``) and imported on the host side as
``tox_broker_audit.probe._tba_redact``.

Rules (see ``docs/architecture.md``, section "The probe"): passwords in URLs are replaced,
values of variables whose names look secret are replaced, known token shapes are replaced
wherever they appear. Equality stays visible through keyed fingerprints (HMAC-SHA256 with a
random key the host keeps per user, or per run where it cannot store one), which cannot be
reversed offline without the key; the key itself is never written into a snapshot.
"""

from __future__ import annotations

import hashlib
import hmac
import re

__all__ = [
    "MASK",
    "fingerprint",
    "is_secret_name",
    "key_id",
    "redact_text",
    "redact_url",
    "redact_value",
]

MASK = "***"

# Names that look secret. ``PWD``/``OLDPWD`` are the working directory, not passwords.
_SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE|(?<![A-Z])PASS(?![A-Z])|(?<!OLD)(?<![A-Z])PWD(?=_)|TOKEN|SECRET|(?<!MON)KEY(?!BOARD)"
    r"|CREDENTIAL|PRIVATE|AUTH(?!OR)|COOKIE|SESSION_ID|SIGNATURE|(?<![A-Z])DSN|APIKEY|SALT",
    re.IGNORECASE,
)
_NOT_SECRET_NAMES = frozenset({"PWD", "OLDPWD", "SSH_AUTH_SOCK", "PYTHONHASHSEED", "KEYTIMEOUT"})

# scheme://user:password@host  -> keep the user, hide the password. Also scheme://:password@.
_URL_USERINFO = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/?#@\s]*):(?P<pw>[^@/?#\s]*)@"
)
# ?password=... &token=... in query strings and key=value lists.
_QUERY_SECRET = re.compile(
    r"(?P<k>(?:password|passwd|pwd|token|secret|api[_-]?key|access[_-]?key|auth|signature|sig)=)(?P<v>[^&;\s]+)",
    re.IGNORECASE,
)
# Known token shapes (GitHub, GitLab, Slack, AWS, PyPI, npm, OpenAI-like, JWT, private keys).
_TOKEN_SHAPES = re.compile(
    r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_\-]{16,}"
    r"|xox[abposr]-[A-Za-z0-9\-]{10,}|(?:AKIA|ASIA)[0-9A-Z]{16}|pypi-[A-Za-z0-9_\-]{40,}"
    r"|npm_[A-Za-z0-9]{30,}|sk-[A-Za-z0-9_\-]{20,}"
    r"|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
)


def is_secret_name(name: str) -> bool:
    """True when a variable (or setting) *name* suggests its value is a secret."""
    upper = name.upper()
    if upper in _NOT_SECRET_NAMES:
        return False
    return bool(_SECRET_NAME.search(upper))


def redact_url(text: str) -> str:
    """Hide passwords in ``scheme://user:pw@host`` URLs and secret query parameters."""
    text = _URL_USERINFO.sub(lambda m: m.group("scheme") + m.group("user") + ":" + MASK + "@", text)
    return _QUERY_SECRET.sub(lambda m: m.group("k") + MASK, text)


def redact_text(text: str) -> str:
    """Redact every secret shape that can be recognised inside free text."""
    if not text:
        return text
    return _TOKEN_SHAPES.sub(MASK, redact_url(text))


def redact_value(name: str, value: str) -> tuple[str, bool]:
    """Return ``(shown_value, secret)`` for an environment variable or setting."""
    if is_secret_name(name):
        return (MASK if value else ""), True
    shown = redact_text(value)
    return shown, shown != value


def key_id(key: bytes) -> str:
    """A short public identifier of a fingerprint key: equal ids mean comparable fingerprints."""
    return hashlib.sha256(b"tox-broker-audit key id\0" + key).hexdigest()[:12]


def fingerprint(key: bytes, value: str) -> str:
    """Keyed, truncated HMAC of ``value``: equal values give equal fingerprints under one key."""
    return hmac.new(key, value.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:20]
