"""docs/ci.md's complete CI examples are valid for their platforms (offline, their own schemas)
and use only options that exist."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from _schemas import validate_github_workflow, validate_gitlab_ci
from tox_broker_audit._tox.options import add_options

CI_MD = Path(__file__).parents[1] / "docs" / "ci.md"


def _example(marker: str) -> str:
    text = CI_MD.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {marker}:[^>]*-->\n```yaml\n(.*?)```", text, flags=re.DOTALL)
    assert match is not None, f"no ```yaml block after <!-- {marker}: … --> in docs/ci.md"
    return match.group(1)


def _load(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


class _Names:
    """Collects the option names ``add_options`` registers (tox's parser is an argparse one)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def add_argument(self, *names: str, **_: object) -> None:
        self.names.update(names)


def _options() -> set[str]:
    names = _Names()
    add_options(names)  # type: ignore[arg-type]
    return names.names


@pytest.mark.parametrize(
    ("marker", "validate"), [("github-workflow", validate_github_workflow), ("gitlab-ci", validate_gitlab_ci)]
)
def test_the_ci_examples_validate_against_the_platform_schema(marker: str, validate: Any) -> None:
    text = _example(marker)
    validate(_load(text))
    used = set(re.findall(r"--broker-audit[a-z-]*", text))
    assert {"--broker-audit", "--broker-audit-fail-on", "--broker-audit-save"} <= used
    assert used <= _options(), used - _options()
    assert "report.sarif" in text


def test_a_broken_example_would_be_caught() -> None:
    workflow = _load(_example("github-workflow"))
    del workflow["jobs"]["tox"]["runs-on"]
    with pytest.raises(AssertionError):
        validate_github_workflow(workflow)
    gitlab = _load(_example("gitlab-ci"))
    gitlab["tox"]["artifacts"]["when"] = "sometimes"
    with pytest.raises(AssertionError):
        validate_gitlab_ci(gitlab)
