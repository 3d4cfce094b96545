"""Installed distributions, read with ``importlib.metadata`` from the target's ``sys.path``.

Stdlib only, Python 3.9+. Executed inside the audited interpreter as the top-level module
``_tba_dists``, after start-up, so the path is the one the tests will see: no pip needed
(uv-made venvs have none), and a distribution shadowed by an earlier one on the path is
marked so. ``direct_url.json`` tells editable installs and their source tree.
"""

from __future__ import annotations

import json

import _tba_redact as redact

__all__ = ["canonical", "dist_by_top", "distributions"]


def canonical(name: str) -> str:
    """The normalized (PEP 503) form of a distribution name."""
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def distributions(path: list[str]) -> list[dict]:
    """Every distribution on ``path``, in path order (a later one of the same name is shadowed)."""
    from importlib import metadata
    from urllib.parse import unquote, urlparse

    out = []
    seen: set = set()
    for dist in metadata.distributions(path=path):
        try:
            meta = dist.metadata
            raw_name = meta["Name"] if meta is not None else None
        except Exception:
            raw_name = None
        if not raw_name:
            continue
        name = canonical(raw_name)
        location = getattr(dist, "_path", None)
        location = str(location.parent) if location is not None else ""
        editable, direct_url, source_path = False, None, None
        text = dist.read_text("direct_url.json")
        if text:
            try:
                data = json.loads(text)
                direct_url = redact.redact_text(str(data.get("url", "")))
                editable = bool((data.get("dir_info") or {}).get("editable", False))
                parsed = urlparse(data.get("url", ""))
                if parsed.scheme == "file":
                    source_path = unquote(parsed.path)
            except (ValueError, AttributeError):
                pass
        installer = (dist.read_text("INSTALLER") or "").strip() or None
        top_level_txt = dist.read_text("top_level.txt")
        if top_level_txt:
            top = sorted({t.strip() for t in top_level_txt.splitlines() if t.strip()})
        else:
            top = _top_level_from_record(dist.read_text("RECORD") or "")
        out.append(
            {
                "name": name,
                "raw_name": raw_name,
                "version": (meta["Version"] if meta is not None else None) or "",
                "location": location,
                "installer": installer,
                "editable": editable,
                "direct_url": direct_url,
                "source_path": source_path,
                "requested": dist.read_text("REQUESTED") is not None,
                "top_level": top,
                "shadowed": name in seen,
                "requires": _requires(dist),
            }
        )
        seen.add(name)
    return out


def _requires(dist) -> list:
    """The canonical names of ``Requires-Dist`` that may have pulled something in: every marker
    but an ``extra`` one (``Sphinx>=5; extra == "standalone"`` is only installed by whoever asks
    for that extra, so it says nothing about why Sphinx is there)."""
    import re

    try:
        lines = dist.requires or []
    except Exception:
        return []
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
