"""The one table of finding codes: slug, what the code means, and how reports group it.

Codes and slugs are stable public identifiers (ignore lists, SARIF rule ids, CI
dashboards). Everything that names a code reads it from here: the rules (``slug``), the
SARIF ``shortDescription``, the terminal/markdown grouping ("3 variables, 1 package"), and
``docs/findings.md``, whose ``## CODE slug`` headings a test compares with this table.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

__all__ = ["CODES", "Code", "category_of", "is_per_run", "meaning_of", "slug_of"]


@dataclasses.dataclass(frozen=True)
class Code:
    code: str
    slug: str
    #: One line: what the finding says (the SARIF rule's shortDescription).
    meaning: str
    #: How the reader's summary counts it: singular and plural noun.
    noun: tuple[str, str]
    #: A fact about one run (a broker that cannot be reached): when the baseline has the same
    #: fact, it is said "in both runs" and is no difference tox made.
    per_run: bool = False


_VARIABLE = ("variable", "variables")
_PACKAGE = ("package", "packages")
_PTH = (".pth", ".pth")
_STARTUP = ("start-up/sys.path item", "start-up/sys.path items")
_PYTEST = ("pytest setting", "pytest settings")
_MODULE = ("module", "modules")
_BROKER = ("broker item", "broker items")
_NOTE = ("probe note", "probe notes")

_TABLE = (
    Code("BA101", "env-missing", "variable present in baseline, missing under tox (pass_env)", _VARIABLE),
    Code("BA102", "env-added", "variable only under tox (set_env, tox-injected, CI leak)", _VARIABLE),
    Code("BA103", "env-changed", "variable value differs (compared through redaction)", _VARIABLE),
    Code("BA104", "hashseed", "PYTHONHASHSEED differs or is random", _VARIABLE),
    Code("BA201", "package-missing", "distribution only in baseline", _PACKAGE),
    Code("BA202", "package-extra", "distribution only under tox", _PACKAGE),
    Code("BA203", "package-version", "package versions differ", _PACKAGE),
    Code("BA204", "install-mode", "installed editable vs regular, or in another location", _PACKAGE),
    Code("BA301", "pth-exec", ".pth file with executable lines differs", _PTH),
    Code("BA302", "pth-path", ".pth path entries differ", _PTH),
    Code("BA303", "sitecustomize", "sitecustomize/usercustomize differs", _STARTUP),
    Code("BA305", "sys-path", "sys.path entries or order differ", _STARTUP),
    Code("BA306", "interpreter", "interpreter version, implementation or flags differ", _STARTUP),
    Code("BA401", "pytest-plugins", "pytest plugin set differs", _PYTEST),
    Code("BA402", "plugin-order", "pytest plugin load order differs", _PYTEST),
    Code(
        "BA403",
        "pytest-config",
        "pytest rootdir, inifile, addopts, import mode or testpaths differ",
        _PYTEST,
    ),
    Code("BA404", "conftest", "conftest files differ", _PYTEST),
    Code("BA405", "unknown-ini-option", "an ini option is unknown (its plugin is missing)", _PYTEST),
    Code("BA406", "early-import", "an app module was imported before the test suite's setup ran", _PYTEST),
    Code(
        "BA407",
        "cwd-relative-file",
        "a file opened relative to the working directory resolves elsewhere (or nowhere) under tox",
        ("file", "files"),
    ),
    Code(
        "BA408",
        "xdist-worker",
        "the tests run in pytest-xdist workers under tox, in one process locally",
        _PYTEST,
    ),
    Code("BA501", "double-import", "same file imported under two module names", _MODULE),
    Code(
        "BA502",
        "module-origin",
        "a module resolves to different files or is importable on one side only",
        _MODULE,
    ),
    Code(
        "BA601",
        "actor-real-broker",
        "an actor is bound to a real broker where tests expect a stub",
        _BROKER,
        per_run=True,
    ),
    Code("BA602", "global-broker", "the global broker differs", _BROKER),
    Code(
        "BA603",
        "broker-unreachable",
        "a bound broker or broker URL target cannot be reached",
        _BROKER,
        per_run=True,
    ),
    Code("BA604", "isolation-illusion", "the baseline run was bound to a real, reachable broker", _BROKER),
    Code(
        "BA605",
        "implicit-default-broker",
        "dramatiq created its implicit default broker",
        _BROKER,
        per_run=True,
    ),
    Code(
        "BA611",
        "celery-task-broker",
        "a Celery task call reaches a real broker or result backend under tox, not locally",
        _BROKER,
    ),
    Code(
        "BA612",
        "celery-setting",
        "a Celery app's broker, result backend or eagerness differs, and who set it",
        _BROKER,
    ),
    Code(
        "BA613",
        "celery-eager-backend",
        "an eager Celery task still contacts its result backend",
        _BROKER,
    ),
    Code(
        "BA614",
        "celery-default-app",
        "the project's Celery app is never created on one side: tasks use Celery's default app",
        _BROKER,
    ),
    Code(
        "BA701",
        "experiment-cause",
        "re-running the target with these differences undone gives the baseline's result (no rule names it)",
        ("verified cause", "verified causes"),
    ),
    Code("BA901", "probe-failed", "a snapshot could not be taken", _NOTE),
    Code("BA902", "collection-error", "pytest collection errors on one side only", _NOTE),
    Code("BA903", "rule-failed", "a diagnosis rule or the diagnosis itself failed", _NOTE),
)

#: Every built-in code, in documentation order.
CODES: Mapping[str, Code] = {c.code: c for c in _TABLE}


def slug_of(code: str) -> str:
    """The stable slug of ``code``; a third-party code without an entry gets its lower-case form."""
    known = CODES.get(code)
    return known.slug if known is not None else code.lower()


def finding_id(code: str, subject: str, default: str = "") -> str:
    """A finding's id: ``{code}-{slug of its subject}`` (``BA101-unit-tests``), the slug at most
    48 characters; ``default`` when the subject has no letter or digit (then just the code)."""
    slug = re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-")[:48].rstrip("-") or default
    return f"{code}-{slug}" if slug else code


def meaning_of(code: str, default: str) -> str:
    known = CODES.get(code)
    return known.meaning if known is not None else default


def category_of(code: str) -> tuple[str, str]:
    """Singular and plural noun that a report's summary counts ``code`` under."""
    known = CODES.get(code)
    return known.noun if known is not None else ("other", "other")


def is_per_run(code: str) -> bool:
    known = CODES.get(code)
    return known is not None and known.per_run
