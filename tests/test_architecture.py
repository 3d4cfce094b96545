"""The layout's promises (docs/architecture.md), checked on the source itself.

- no import cycle among the package's modules, counting every import (also those inside
  functions and under ``TYPE_CHECKING``: a cycle hidden in a function is still a cycle);
- the probe is stdlib-only and the host imports only its shared modules;
- the layers import downwards only (front doors → audit → diagnosis/renderers → snapshot);
- no module over 600 lines, no function over 60 lines;
- one table of finding codes, and docs/findings.md documents exactly those codes.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "tox_broker_audit"
NAME = "tox_broker_audit"

#: Probe modules the host may import: pure, no side effects at import.
HOST_IMPORTABLE_PROBE = {"_tba_redact", "_tba_schema", "_tba_urls"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        if "_example" in rel.parts:
            continue
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _imports(module: str) -> Iterator[str]:
    """Every package module that ``module`` imports (a submodule also imports its parents)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, path.name == "__init__.py", node)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            while name.startswith(NAME):
                if name in MODULES and name != module:
                    yield name
                    break
                name = name.rpartition(".")[0]


GRAPH = {module: sorted(set(_imports(module))) for module in MODULES}


def _find_cycle() -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in GRAPH[node]:
            # A package's __init__ importing its own submodules is not a cycle back.
            if node.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for module in GRAPH:
        if module not in state:
            found = visit(module)
            if found:
                return found
    return None


def test_the_walker_sees_the_package() -> None:
    assert len(MODULES) > 30
    assert "tox_broker_audit.diagnosis.model" in GRAPH["tox_broker_audit.diagnosis.engine"]


def test_no_import_cycle() -> None:
    assert _find_cycle() is None, " -> ".join(_find_cycle() or ())


#: What each layer may import from the package (by module prefix).
_MAY_NOT_IMPORT = {
    f"{NAME}.snapshot": (
        f"{NAME}.diagnosis",
        f"{NAME}.renderers",
        f"{NAME}._audit",
        f"{NAME}._tox",
        f"{NAME}.cli",
    ),
    f"{NAME}.diff": (
        f"{NAME}.diagnosis",
        f"{NAME}.renderers",
        f"{NAME}._audit",
        f"{NAME}._tox",
        f"{NAME}.cli",
    ),
    f"{NAME}.diagnosis": (
        f"{NAME}.renderers",
        f"{NAME}._audit",
        f"{NAME}._tox",
        f"{NAME}.cli",
        f"{NAME}.nox",
    ),
    f"{NAME}.renderers": (f"{NAME}.diagnosis.engine", f"{NAME}._audit", f"{NAME}._tox", f"{NAME}.cli"),
    f"{NAME}.fix": (f"{NAME}.renderers", f"{NAME}._audit", f"{NAME}._tox", f"{NAME}.cli", f"{NAME}.nox"),
    f"{NAME}.verify": (f"{NAME}.renderers", f"{NAME}._audit", f"{NAME}._tox", f"{NAME}.cli", f"{NAME}.nox"),
}


@pytest.mark.parametrize("layer", sorted(_MAY_NOT_IMPORT))
def test_layers_import_downwards_only(layer: str) -> None:
    wrong = [
        f"{module} imports {imported}"
        for module, imported_list in GRAPH.items()
        if module == layer or module.startswith(layer + ".")
        for imported in imported_list
        if imported.startswith(_MAY_NOT_IMPORT[layer])
    ]
    assert wrong == []


#: What the probe imports from the *target's* site-packages, only inside functions, only
#: when it is there: the test runner it drives and the broker libraries it instruments.
TARGET_LIBRARIES = {"pytest", "_pytest", "dramatiq", "pika", "redis", "celery", "kombu"}


def test_the_probe_is_stdlib_only_and_imports_only_itself() -> None:
    stdlib = set(sys.stdlib_module_names)
    for path in sorted((PACKAGE / "probe").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_level = set(map(id, tree.body))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                tops = [alias.name.partition(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                tops = [(node.module or "").partition(".")[0]]
            else:
                continue
            allowed = stdlib if id(node) in top_level else stdlib | TARGET_LIBRARIES
            for top in tops:
                assert top in allowed or top.startswith("_tba_"), f"{path.name}:{node.lineno} imports {top}"


def test_the_host_imports_only_the_shared_probe_modules() -> None:
    wrong = [
        f"{module} imports {imported}"
        for module, imported_list in GRAPH.items()
        if not module.startswith(f"{NAME}.probe")
        for imported in imported_list
        if imported.startswith(f"{NAME}.probe.") and imported.rpartition(".")[2] not in HOST_IMPORTABLE_PROBE
    ]
    assert wrong == []


def test_no_module_over_600_lines() -> None:
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > 600}
    assert long == {}


def test_no_function_over_60_lines() -> None:
    long = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 60:
                    long.append(f"{name}.{node.name}: {length} lines")
    assert long == []


def test_findings_md_documents_exactly_the_code_table() -> None:
    from tox_broker_audit.diagnosis.codes import CODES

    text = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    documented = re.findall(r"^## (BA\d{3}) ([a-z-]+)\s*$", text, flags=re.MULTILINE)
    assert documented == [(c.code, c.slug) for c in CODES.values()]


def test_no_design_section_citations_left() -> None:
    needle = "DESIGN " + "§"
    hits = [
        str(path.relative_to(ROOT))
        for path in [*ROOT.glob("*.md"), *(ROOT / "docs").rglob("*.md"), *(ROOT / "src").rglob("*.py")]
        if needle in path.read_text(encoding="utf-8")
    ]
    hits += [
        str(path.relative_to(ROOT))
        for path in [
            *(ROOT / "tests").rglob("*.py"),
            *(ROOT / "benchmarks").rglob("*.py"),
            ROOT / ".ci" / "run",
        ]
        if needle in path.read_text(encoding="utf-8")
    ]
    assert hits == []


def test_public_names_are_what_they_say() -> None:
    """``from tox_broker_audit import render`` is the function, never a sub-package."""
    import tox_broker_audit
    from tox_broker_audit.renderers import render

    for name in tox_broker_audit.__all__:
        value = getattr(tox_broker_audit, name)
        assert not isinstance(value, type(tox_broker_audit)), f"{name} is a module"
    assert tox_broker_audit.render is render
