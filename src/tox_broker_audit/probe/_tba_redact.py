"""Redaction of secrets: the one implementation used by the probe *and* by every renderer.

Stdlib only and Python 3.9 compatible: this file is executed inside the audited interpreter
(as the top-level module ``_tba_redact``) and imported on the host side as
``tox_broker_audit.probe._tba_redact``.

What is hidden (docs/security.md):

- by **name**: the value of a variable, setting, flag or key whose name looks secret
  (``DB_PASSWORD``, ``MYSQL_PWD``, ``DB_CREDS``, ``AUTHORIZATION_HEADER``, ``SLACK_HOOK``), in
  ``NAME=VALUE``, ``"NAME": "VALUE"``, ``os.environ.setdefault("NAME", "VALUE")``,
  ``--name VALUE`` and ``--name=VALUE``, and in URL query strings;
- by **shape**: URL userinfo (parsed, so a password may hold ``@``, ``/`` or ``,``; every host
  of a multi-host URL; a bare token in ``https://TOKEN@host``), ``Bearer``/``Basic``
  credentials, JWTs, well-known token formats (GitHub, GitLab, Slack, AWS, Stripe, PyPI, npm,
  OpenAI-style, Google API keys, SendGrid), webhook URLs and PEM private keys across lines;
- by **value**: values the probe learnt from the environment it runs in (:func:`learn`).

Every pass is linear in the length of the text: each pattern can only start where a run of
its own characters starts (a look-behind on its continuation class), so no position is
scanned more than a bounded number of times. Equality stays visible through keyed
fingerprints (HMAC-SHA256 with a key the host keeps), which cannot be reversed offline.
"""

from __future__ import annotations

import hashlib
import hmac
import re

__all__ = [
    "MASK",
    "fingerprint",
    "forget",
    "is_secret_name",
    "key_id",
    "learn",
    "redact_args",
    "redact_text",
    "redact_url",
    "redact_value",
]

MASK = "***"

# Names that look secret, matched on the upper-cased name. ``PWD``/``OLDPWD`` alone are the
# working directory; ``MYSQL_PWD`` is a password.
_SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE|(?<![A-Z])PASS(?![A-Z]|_?ENV)|(?<![A-Z])PWD(?![A-Z])|TOKEN|SECRET"
    r"|(?<!MON)KEY(?!BOARD)|CRED|PRIVATE|AUTH(?!OR(?!IZ))|COOKIE|SESSION|SIGNATURE|(?<![A-Z])DSN"
    r"|SALT|HOOK|(?<![A-Z])SIG(?![A-Z])|(?<![A-Z])PW(?![A-Z])|CONN_?STR"
)
_NOT_SECRET_NAMES = frozenset(
    {"PWD", "OLDPWD", "SSH_AUTH_SOCK", "PYTHONHASHSEED", "KEYTIMEOUT", "AUTHOR", "AUTHORS", "KEYERROR"}
)
_NAME_TRIM = "-_. \"'"


def is_secret_name(name: str) -> bool:
    """True when a variable, setting or flag *name* suggests its value is a secret."""
    upper = name.strip(_NAME_TRIM).upper()
    if not upper or upper in _NOT_SECRET_NAMES:
        return False
    return bool(_SECRET_NAME.search(upper))


# --------------------------------------------------------------------------- values learnt

_KNOWN: list[str] = []
_KNOWN_RE: list[re.Pattern[str]] = []
#: Texts already redacted with the values learnt so far: an output repeats the same paths and
#: names many times (a report is cleaned by every renderer and artefact). :func:`learn` and
#: :func:`forget` start a new one (a text redacted with the old values lands in the old one).
_MEMO: "dict[str, str]" = {}
_MEMO_MAX = 50_000
#: Shorter values are hidden only where they appear under their name: masking every "test"
#: in the output would hide more than it protects.
MIN_KNOWN = 8


def learn(environ: "dict[str, str]") -> None:
    """Remember the values of secret-named variables (and URL passwords) in ``environ``, so
    that :func:`redact_text` hides them wherever they turn up (an error message, a path)."""
    values = set(_KNOWN)
    for name, value in environ.items():
        if is_secret_name(name) and len(value) >= MIN_KNOWN and not _path_like(value):
            values.add(value)
        values.update(p for p in _passwords(value) if len(p) >= MIN_KNOWN)
    _KNOWN[:] = sorted(values, key=len, reverse=True)[:200]
    _KNOWN_RE[:] = [re.compile("|".join(re.escape(v) for v in _KNOWN))] if _KNOWN else []
    _new_memo()


def _new_memo() -> None:
    global _MEMO, GENERATION
    _MEMO = {}
    GENERATION += 1


#: Counts the changes of what is hidden (``learn``/``forget``): a caller's memo of redacted
#: texts is valid while this stays the same.
GENERATION = 0


def _path_like(value: str) -> bool:
    """``GOOGLE_APPLICATION_CREDENTIALS=/home/u/app/creds.json`` names a file, it is not the
    secret: masking that path everywhere would hide the project's own paths."""
    return value.startswith(("/", "~", ".", "\\")) or (
        len(value) > 2 and value[1] == ":" and value[2] in "/\\"
    )


def forget() -> None:
    """Forget every learnt value (tests; a long-lived host process)."""
    _KNOWN[:] = []
    _KNOWN_RE[:] = []
    _new_memo()


# --------------------------------------------------------------------------- URLs

_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_URL_STOP = re.compile(r"[\s\"'<>`\\|]")
#: Schemes whose bare ``user@`` is how a token is passed (``https://TOKEN@github.com/x.git``).
_TOKEN_USER_SCHEMES = ("http", "https", "git+https", "git+http", "hg+https", "svn+https", "ws", "wss")


def _url_spans(text: str) -> "list[tuple[int, int, int]]":
    """``(scheme_start, authority_start, end)`` of every ``scheme://…`` in ``text``, in order."""
    spans: list[tuple[int, int, int]] = []
    pos = 0
    while True:
        sep = text.find("://", pos)
        if sep < 0:
            return spans
        start = sep
        while start > pos and text[start - 1] in _SCHEME_CHARS:
            start -= 1
        stop = _URL_STOP.search(text, sep + 3)
        end = stop.start() if stop else len(text)
        while start < sep and not text[start].isalpha():
            start += 1  # a scheme starts with a letter: "1amqp://" is "amqp://"
        if start < sep:
            spans.append((start, sep + 3, end))
        pos = max(end, sep + 3)


def _userinfo(scheme: str, rest: str) -> "tuple[str, str] | None":
    """``(shown userinfo, host part)`` of a URL's rest after ``://``, or None without one.

    The userinfo runs to the *last* ``@`` (a password may hold ``@``, ``/`` or ``,``; a
    multi-host URL's other users and passwords are inside it too), so it is never cut short.
    """
    at = rest.rfind("@")
    if at < 0:
        return None
    info = rest[:at]
    user, colon, _password = info.partition(":")
    if colon:
        if any(c in user for c in "@/,?#;"):
            return MASK, rest[at + 1 :]
        return user + ":" + MASK, rest[at + 1 :]
    if any(c in info for c in "/?#") or not info:
        return None  # ``https://h/a@b``: an ``@`` in the path, no userinfo
    if scheme.lower() in _TOKEN_USER_SCHEMES or _looks_like_token(info):
        return MASK, rest[at + 1 :]
    return None


def _looks_like_token(text: str) -> bool:
    return len(text) >= 20 or bool(_TOKEN_SHAPES.fullmatch(text))


def _passwords(text: str) -> "list[str]":
    """The passwords of the URLs in ``text`` (for :func:`learn`)."""
    found = []
    for _start, auth, end in _url_spans(text):
        rest = text[auth:end]
        at = rest.rfind("@")
        if at > 0 and ":" in rest[:at]:
            found.append(rest[:at].partition(":")[2])
    return found


def _redact_userinfo(text: str) -> str:
    out = []
    last = 0
    for start, auth, end in _url_spans(text):
        shown = _userinfo(text[start : auth - 3], text[auth:end])
        if shown is None:
            continue
        out.append(text[last:auth])
        out.append(shown[0] + "@" + shown[1])
        last = end
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


# --------------------------------------------------------------------------- shapes

_B64URL = "A-Za-z0-9_\\-"
_TOKEN_SHAPES = re.compile(
    "(?<![A-Za-z0-9_])(?:"
    r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_\-]{16,}"
    r"|gl(?:dt|rt|cbt|ptt|soat|ft|imt)-[A-Za-z0-9_\-]{16,}"
    r"|xox[abposre]-[A-Za-z0-9\-]{10,}|xapp-[A-Za-z0-9\-]{10,}"
    r"|(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}(?![0-9A-Z])"
    r"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9]{16,}"
    r"|pypi-[A-Za-z0-9_\-]{40,}|npm_[A-Za-z0-9]{30,}|sk-[A-Za-z0-9_\-]{20,}"
    r"|AIza[0-9A-Za-z_\-]{35}|SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"
    f"|eyJ[{_B64URL}]{{8,}}\\.eyJ[{_B64URL}]{{8,}}\\.[{_B64URL}]{{8,}}"
    ")"
)
#: A whole private key, across lines, up to its END line (or the end of the text).
#: The labels are short words ("RSA", "OPENSSH", "PGP … BLOCK"): bounded, so that a long run
#: of capitals after "-----BEGIN " is not re-scanned from every "PRIVATE KEY" in it.
_PEM = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END [A-Z0-9 ]{1,40}-----|\Z)"
)
_AUTH_SCHEME = re.compile(r"(?<![A-Za-z0-9_\-])(?:[Bb]earer|BEARER|Basic)( +)[A-Za-z0-9._~+/\-]{6,}=*")
_WEBHOOK = re.compile(
    r"(?<![A-Za-z0-9])(https?://(?:hooks\.slack\.com/(?:services|workflows|triggers)/"
    r"|(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/"
    r"|[A-Za-z0-9\-]+\.webhook\.office\.com/webhookb2/|outlook\.office\.com/webhook/))[^\s\"'<>`]+"
)


def _redact_shapes(text: str) -> str:
    text = _WEBHOOK.sub(lambda m: m.group(1) + MASK, text)
    text = _AUTH_SCHEME.sub(lambda m: m.group(0)[: m.end(1) - m.start(0)] + MASK, text)
    return _TOKEN_SHAPES.sub(MASK, text)


# --------------------------------------------------------------------------- names

#: ``NAME=``, ``"NAME": ``, ``"NAME", `` (setdefault), ``["NAME"] = ``, ``--name `` — a name
#: only starts where a run of name characters starts (the look-behind), so this is linear.
_PAIR = re.compile(
    r"(?<![A-Za-z0-9_.\-])"
    r"(?:(?P<q>[\"'])(?P<qname>[A-Za-z_][A-Za-z0-9_.\-]*)(?P=q)\]?\s*(?P<qsep>[=:,])\s*"
    r"|(?P<flag>--?[A-Za-z][A-Za-z0-9_.\-]*)(?P<fsep>=|[ \t]+(?=[^\s\-]))"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)\]?[ \t]*=[ \t]*)"
)
_BARE_VALUE = re.compile(r"[^\s&;,\"'<>`)\]]*")


def _value_end(text: str, pos: int) -> int:
    """Where a value starting at ``pos`` ends: its closing quote, or the end of a bare word."""
    if pos < len(text) and text[pos] in "\"'":
        close = text.find(text[pos], pos + 1)
        # Never past the end of the line (bounded by ``close``: each character is read once).
        newline = text.find("\n", pos + 1, close if close >= 0 else len(text))
        if newline >= 0:
            return newline
        return close + 1 if close >= 0 else len(text)
    match = _BARE_VALUE.match(text, pos)
    return match.end() if match else pos


def _redact_pairs(text: str) -> str:
    out = []
    last = 0
    pos = 0
    while True:
        match = _PAIR.search(text, pos)
        if match is None:
            break
        name = match.group("qname") or match.group("flag") or match.group("name")
        pos = match.end()
        if not is_secret_name(name):
            continue
        end = _value_end(text, match.end())
        if end == match.end():
            continue
        value = text[match.end() : end]
        quote = value[0] if value[0] in "\"'" and len(value) > 1 and value[-1] == value[0] else ""
        out.append(text[last : match.end()])
        out.append(quote + MASK + quote if value != MASK and value.strip("\"'") != MASK else value)
        last = pos = end
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def _redact_known(text: str) -> str:
    for pattern in _KNOWN_RE:
        text = pattern.sub(MASK, text)
    return text


# --------------------------------------------------------------------------- entry points


def redact_url(text: str) -> str:
    """Hide URL userinfo (passwords, tokens) and secret query parameters in ``text``."""
    return _redact_pairs(_redact_userinfo(text))


def redact_text(text: str) -> str:
    """Redact every secret that can be recognised inside free text (linear in its length).

    Run it on the raw text, before any other processing (normalising a path, escaping for a
    format): ``amqp://u:pw@h`` normalised first becomes ``amqp:/u:pw@h``, no longer a URL.
    """
    if not text:
        return text
    memo = _MEMO
    done = memo.get(text)
    if done is None:
        done = _redact_pairs(_redact_shapes(_redact_userinfo(_redact_known(_PEM.sub(MASK, text)))))
        if len(memo) >= _MEMO_MAX:
            memo.clear()
        memo[text] = done
    return done


def redact_args(args: "list[str] | tuple[str, ...]") -> "list[str]":
    """An argument vector with secrets hidden, ``--api-secret VALUE`` across two items too."""
    out = []
    hide_next = False
    for arg in args:
        text = str(arg)
        if hide_next and not text.startswith("-"):
            out.append(MASK)
            hide_next = False
            continue
        hide_next = text.startswith("-") and "=" not in text and is_secret_name(text)
        out.append(redact_text(text))
    return out


def redact_value(name: str, value: str) -> "tuple[str, bool]":
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
    try:
        data = value.encode("utf-8", "surrogateescape")  # undecodable bytes of os.environ
    except UnicodeEncodeError:  # any other lone surrogate: still a value, never a crash
        data = value.encode("utf-8", "surrogatepass")
    return hmac.new(key, data, hashlib.sha256).hexdigest()[:20]
