"""Installed distributions, read with ``importlib.metadata`` from the target's ``sys.path``.

Stdlib only, Python 3.9+. Executed inside the audited interpreter as the top-level module
``_tba_dists``, after start-up, so the path is the one the tests will see: no pip needed
(uv-made venvs have none), and a distribution shadowed by an earlier one on the path is
marked so. ``direct_url.json`` tells editable installs and their source tree.
"""

from __future__ import annotations

import json
import os

import _tba_redact as redact

__all__ = ["canonical", "dist_by_top", "distributions"]


def canonical(name: str) -> str:
    """The normalized (PEP 503) form of a distribution name."""
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def distributions(path: list[str]) -> list[dict]:
    """Every distribution on ``path``, in path order (a later one of the same name is shadowed).

    Each one's ``METADATA`` is read once, its header block only (:func:`_headers`: the
    description after it is never parsed), and of the other files only those its directory
    lists are opened: a local venv of 1,000 distributions costs a tenth of a second, not half.
    """
    from importlib import metadata

    out = []
    seen: set = set()
    for dist in metadata.distributions(path=path):
        files = _Files(dist)
        try:
            meta = _headers(files.read("METADATA") or files.read("PKG-INFO"))
        except Exception:
            meta = None
        raw_name = meta.get("Name") if meta is not None else None
        if not raw_name:
            continue
        name = canonical(raw_name)
        top_level_txt = files.read("top_level.txt")
        if top_level_txt:
            top = sorted({t.strip() for t in top_level_txt.splitlines() if t.strip()})
        else:
            top = _top_level_from_record(files.read("RECORD") or "")
        out.append(
            {
                "name": name,
                "raw_name": raw_name,
                "version": meta.get("Version") or "",
                "location": files.location,
                "installer": (files.read("INSTALLER") or "").strip() or None,
                **_direct_url(files.read("direct_url.json")),
                "requested": files.read("REQUESTED") is not None,
                "top_level": top,
                "shadowed": name in seen,
                "requires": _requires(meta.get_all("Requires-Dist") or []),
            }
        )
        seen.add(name)
    return out


class _Files:
    """A distribution's metadata files: its directory listed once, only present files opened
    (``read_text`` of a missing file costs an exception); other kinds through ``read_text``."""

    def __init__(self, dist) -> None:
        self._dist = dist
        base = getattr(dist, "_path", None)
        self.location = str(base.parent) if base is not None else ""
        self._dir = None
        self._names: frozenset = frozenset()
        if base is not None:
            try:
                self._names = frozenset(os.listdir(str(base)))
                self._dir = str(base)
            except OSError:
                pass

    def read(self, name: str):
        if self._dir is None:
            return self._dist.read_text(name)
        if name not in self._names:
            return None
        try:  # a stray non-UTF-8 byte (an author's name in Latin-1) costs that byte, not the dist
            with open(os.path.join(self._dir, name), encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except OSError:
            return None


def _headers(text):
    """The fields of a ``METADATA`` file this probe reads (``Name``, ``Version``,
    ``Requires-Dist``), from its header block — the lines before the first blank one, a line
    that starts with white space continuing the one above (core metadata is RFC 822 headers;
    the feed parser of ``email`` costs ten times as much for the same three fields)."""
    if not text:
        return None
    fields: dict = {}
    last = None
    for line in text.splitlines():
        if not line.strip():
            break
        if line[0] in " \t" and last is not None:
            last[-1] = f"{last[-1]} {line.strip()}"
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        last = fields.setdefault(key, []) if key in _FIELDS else None
        if last is not None:
            last.append(value.strip())
    return _Headers(fields)


#: The METADATA fields read (lower case).
_FIELDS = frozenset({"name", "version", "requires-dist"})


class _Headers:
    """``get``/``get_all`` as on an ``email.message.Message``, for the fields read."""

    def __init__(self, fields: dict) -> None:
        self._fields = fields

    def get(self, key: str):
        values = self._fields.get(key.lower())
        return values[0] if values else None

    def get_all(self, key: str):
        return self._fields.get(key.lower())


def _direct_url(text) -> dict:
    """``editable``, ``direct_url`` (redacted) and ``source_path`` from ``direct_url.json``."""
    from urllib.parse import unquote, urlparse

    found: dict = {"editable": False, "direct_url": None, "source_path": None}
    if not text:
        return found
    try:
        data = json.loads(text)
        found["direct_url"] = redact.redact_text(str(data.get("url", "")))
        found["editable"] = bool((data.get("dir_info") or {}).get("editable", False))
        parsed = urlparse(data.get("url", ""))
        if parsed.scheme == "file":
            found["source_path"] = unquote(parsed.path)
    except (ValueError, AttributeError):
        pass
    return found


def _requires(lines: list) -> list:
    """The canonical names of ``Requires-Dist`` that may have pulled something in: every marker
    but an ``extra`` one (``Sphinx>=5; extra == "standalone"`` is only installed by whoever asks
    for that extra, so it says nothing about why Sphinx is there)."""
    import re

    names = set()
    for line in lines:
        marker = line.partition(";")[2]
        if re.search(r"\bextra\s*(==|!=|in\b)", marker):
            continue
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        if match:
            names.add(canonical(match.group(1)))
    return sorted(names)


def _top_level_from_record(record: str) -> list[str]:
    tops = set()
    for line in record.splitlines():
        path = line.split(",", 1)[0].replace("\\", "/")
        first, sep, _rest = path.partition("/")
        if not first or first.startswith("..") or first == "__pycache__":
            continue
        if not sep:
            if first.endswith(".py") and not first.startswith("__editable__"):
                tops.add(first[:-3])
            elif first.endswith((".so", ".pyd")):
                tops.add(first.split(".", 1)[0])
            continue
        if first.endswith((".dist-info", ".data", ".egg-info")):
            continue
        tops.add(first)
    return sorted(tops)


def dist_by_top(dists: list[dict]) -> dict:
    """``{top-level module: distribution name}`` of the distributions that are not shadowed."""
    out: dict = {}
    for dist in dists:
        if not dist["shadowed"]:
            for top in dist["top_level"]:
                out.setdefault(top, dist["name"])
    return out
