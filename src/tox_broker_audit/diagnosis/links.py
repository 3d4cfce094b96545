"""Causal links between findings: the typed ``about`` / ``effects_on`` tokens and the edges.

Finding C *explains* E when ``C.effects_on`` and ``E.about`` share a token (the token
vocabulary is in ``diagnosis/rules/__init__.py``). Rules written for the first extension API
put the tokens in ``evidence["about"]`` / ``evidence["effects_on"]``: :func:`adopt_links`
moves them into the fields, so every later stage (linking, propagation, renderers, report.json)
reads only the fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from tox_broker_audit.diagnosis.model import Finding

__all__ = ["LINK_KEYS", "adopt_links", "link", "tokens"]

#: The evidence keys that carried the links before ``Finding.about`` / ``Finding.effects_on``.
LINK_KEYS = ("about", "effects_on")


def tokens(values: Iterable[Any]) -> tuple[str, ...]:
    """Link tokens as the fields hold them: strings, sorted, no duplicates, no empty token."""
    return tuple(sorted({str(v) for v in values} - {""}))


def _listed(value: Any) -> Iterable[Any]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)  # a lone token, not its characters
    return value if isinstance(value, Iterable) else (value,)


def adopt_links(finding: Finding) -> Finding:
    """The finding with ``evidence["about"/"effects_on"]`` added to its fields (in order, no
    duplicates) and taken out of ``evidence``; a finding without those keys is returned as it is."""
    evidence = finding.evidence
    if not any(key in evidence for key in LINK_KEYS):
        return finding

    def merged(field: tuple[str, ...], key: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*field, *(str(v) for v in _listed(evidence.get(key)))]))

    return dataclasses.replace(
        finding,
        about=merged(finding.about, "about"),
        effects_on=merged(finding.effects_on, "effects_on"),
        evidence={k: v for k, v in evidence.items() if k not in LINK_KEYS},
    )


def link(findings: Sequence[Finding]) -> list[tuple[int, ...]]:
    """For each finding, the indexes of the findings it explains.

    Two findings that would explain each other keep only the direction from the one with the
    higher score (ties: the lower code), so chains stay acyclic for the common pairs.
    """
    # Linear in the findings and their tokens: an index of who is about each token, instead
    # of intersecting every pair (20,000 one-sided modules took 38 s that way).
    about_index: dict[str, list[int]] = {}
    for j, finding in enumerate(findings):
        for token in set(finding.about):
            about_index.setdefault(token, []).append(j)
    edges = [
        {j for token in set(finding.effects_on) for j in about_index.get(token, ()) if j != i}
        for i, finding in enumerate(findings)
    ]
    for i, out in enumerate(edges):
        for j in list(out):
            if i in edges[j]:
                keep_i = (findings[i].score, findings[j].code) > (findings[j].score, findings[i].code)
                (edges[j] if keep_i else out).discard(i if keep_i else j)
    return [tuple(sorted(e)) for e in edges]
