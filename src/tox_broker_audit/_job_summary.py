"""Job summaries: the Markdown report on the CI run's page (docs/ci.md).

* GitHub Actions: appended to the file ``$GITHUB_STEP_SUMMARY`` names. GitHub takes at most
  1 MiB per step and shows an error instead of a larger summary, so what would pass that is cut
  at a line boundary, with a note; several envs of one step share the budget.
  https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands#adding-a-job-summary
* Azure Pipelines: ``##vso[task.uploadsummary]PATH`` printed on stdout attaches the Markdown
  file to the run's summary tab.
  https://learn.microsoft.com/azure/devops/pipelines/scripts/logging-commands#uploadsummary-add-some-markdown-content-to-the-build-summary
* GitLab CI has no job summary: the report is an artefact (``artifacts:expose_as``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["GITHUB_LIMIT", "publish", "truncate"]

#: GitHub's limit for one step's summary, in bytes.
GITHUB_LIMIT = 1024 * 1024
_NOTE = (
    "\n\n> broker audit: the rest of this report was cut to stay within GitHub's 1 MiB step summary;"
    " see {path}\n"
)


def truncate(text: str, budget: int, note: str) -> str:
    """``text`` if it fits ``budget`` bytes (UTF-8), else its first whole lines and ``note``."""
    data = text.encode("utf-8")
    if len(data) <= budget:
        return text
    room = budget - len(note.encode("utf-8"))
    if room <= 0:
        return ""
    head = data[:room].decode("utf-8", errors="ignore")
    cut = head.rfind("\n")
    return (head[: cut + 1] if cut >= 0 else "") + note


def _github(file_name: str, markdown: Path) -> str | None:
    target = Path(file_name)
    try:
        used = target.stat().st_size if target.exists() else 0
        text = markdown.read_text(encoding="utf-8")
        chunk = truncate("\n" + text, GITHUB_LIMIT - used, _NOTE.format(path=markdown))
        if not chunk:
            return f"broker-audit: the step summary is full (1 MiB); the report is in {markdown}"
        with target.open("a", encoding="utf-8") as fh:
            fh.write(chunk)
    except OSError as exc:
        return f"broker-audit: cannot append the report to $GITHUB_STEP_SUMMARY: {exc.strerror or exc}"
    return None


def _azure_path(path: Path) -> str:
    # The same escaping as every other logging command (renderers/ci/azure.py, escape_data).
    return str(path).replace("%", "%AZP25").replace("\r", "%0D").replace("\n", "%0A")


def publish(environ: Mapping[str, str], markdown: Path) -> list[str]:
    """Put ``markdown`` (the env's ``report.md``) on the CI's summary page; the lines to print."""
    lines: list[str] = []
    if not markdown.is_file():
        return lines
    summary = environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        problem = _github(summary, markdown)
        if problem:
            lines.append(problem)
    if environ.get("TF_BUILD"):
        lines.append(f"##vso[task.uploadsummary]{_azure_path(Path(os.path.abspath(markdown)))}")
    return lines
