"""The half of an audit that does not depend on the front door: once the snapshots are taken.

The tox plugin (:mod:`._tox`) and the nox helper (:mod:`.nox`) each take the baseline and
target snapshots their own way (they know the interpreter, environment and working
directory of their test command), then hand over here: diagnose with BA901 for every side
that could not be captured, write the artefacts, render the requested formats, and count
the findings that ``fail-on`` turns into a failure. Each front door prints the lines and
fails in its own way (a tox ``Fail``, ``session.error``).

Never let the audit break the user's run (docs/architecture.md): a diagnosis, artefact or renderer
failure becomes a BA901 finding or one line of output, never an exception.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tox_broker_audit._errors import AuditError, NothingToCompareError
from tox_broker_audit._sanitize import clean

if TYPE_CHECKING:
    from tox_broker_audit.diagnosis.model import Finding, Report, ToxFacts
    from tox_broker_audit.snapshot.baseline import BaselinePlan
    from tox_broker_audit.snapshot.model import Snapshot

__all__ = [
    "ARTEFACT_DIR",
    "FAIL_ON",
    "FILE_FORMATS",
    "Captured",
    "OutputOptions",
    "capture",
    "check_fail_on",
    "check_formats",
    "choose_formats",
    "ci_root",
    "count_failing",
    "display_path",
    "finish",
    "probe_failure",
    "reset_dir",
    "selection_note",
    "take_baseline",
]

FAIL_ON = ("never", "error", "warning")
ARTEFACT_DIR = "broker-audit"
#: Formats written to files in the artefact directory instead of being printed.
FILE_FORMATS = {"sarif": "report.sarif", "gitlab": "gl-code-quality-report.json"}
#: CI systems whose annotation format is added automatically (variable, value or None for "set").
_CI_FORMATS: tuple[tuple[str, str | None, str], ...] = (
    ("GITHUB_ACTIONS", "true", "github"),
    ("GITLAB_CI", None, "gitlab"),
    ("TF_BUILD", None, "azure"),
)
#: Where each CI checks the repository out: annotation paths are relative to it.
_CI_ROOTS = ("GITHUB_WORKSPACE", "CI_PROJECT_DIR", "BUILD_SOURCESDIRECTORY")


@dataclasses.dataclass(frozen=True)
class OutputOptions:
    """How a report is shown: formats, verbosity, colour (terminal only; None: decide from
    stdout), the CI checkout and the config file the CI formats anchor findings at."""

    formats: tuple[str, ...] = ("terminal",)
    verbose: bool = False
    color: bool | None = None
    root: str | None = None
    config_file: str | None = None


# --------------------------------------------------------------------------- options


def choose_formats(requested: Sequence[str], environ: Mapping[str, str]) -> tuple[str, ...]:
    """``requested`` (repeatable, comma separated; default ``terminal``) plus the annotation
    format of the CI that ``environ`` shows."""
    out: list[str] = []
    for option in requested:
        out.extend(part.strip().lower() for part in option.split(",") if part.strip())
    if not out:
        out.append("terminal")
    for variable, expected, fmt in _CI_FORMATS:
        present = environ.get(variable)
        if present and (expected is None or present.lower() == expected) and fmt not in out:
            out.append(fmt)
    return tuple(dict.fromkeys(out))


def check_formats(formats: Sequence[str], option: str) -> None:
    """:class:`AuditError` naming ``option`` when a format is not registered."""
    from tox_broker_audit.renderers import available_formats

    known = tuple(available_formats())
    unknown = [fmt for fmt in formats if fmt not in known]
    if unknown:
        raise AuditError(f"unknown {option} {', '.join(unknown)} (choose from {', '.join(known)})")


def check_fail_on(value: str, option: str) -> None:
    """:class:`AuditError` naming ``option`` (and where else it may come from) for a bad value."""
    if value not in FAIL_ON:
        raise AuditError(
            f"{option}={value!r} is not one of {', '.join(FAIL_ON)} "
            "(from the command line, its TOX_ environment variable or the tox user config)"
        )


def ci_root(environ: Mapping[str, str], default: str) -> str:
    """The CI checkout (``GITHUB_WORKSPACE``, ``CI_PROJECT_DIR``, …) from ``environ``, else ``default``."""
    for variable in _CI_ROOTS:
        if environ.get(variable):
            return environ[variable]
    return default


def count_failing(report: Report, fail_on: str) -> int:
    """How many findings are at or above ``fail_on`` (``never``: none)."""
    if fail_on == "never":
        return 0
    levels = ("error",) if fail_on == "error" else ("error", "warning")
    return sum(1 for finding in report.findings if finding.severity in levels)


# --------------------------------------------------------------------------- one audit


def reset_dir(out_dir: Path) -> None:
    """Old artefacts of a previous run must not be mistaken for this run's. A path that is not
    a directory (a file, a symlink) is left alone: writing the artefacts then fails with one
    line, and the report is still shown."""
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        return
    if out_dir.is_dir():
        shutil.rmtree(out_dir, ignore_errors=True)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # said when the artefacts are written


def probe_failure(side: str, message: str) -> Finding:
    from tox_broker_audit.diagnosis.engine import probe_failure_finding

    return probe_failure_finding(side, message)


def take_baseline(  # noqa: PLR0917 - the two front doors' call sites
    plan: BaselinePlan | None,
    plan_error: str,
    environ: Mapping[str, str],
    root: Path,
    key: bytes,
    selection: tuple[str, ...] = (),
    *,
    env_name: str = "",
) -> Snapshot:
    """The baseline ``plan`` names: a snapshot file, ``env_name``'s reference, or plain
    ``pytest`` run from ``root`` with the environment the front door was started with,
    collecting ``selection`` (the target's test paths, ``-k``, ``-m``: the same tests). Any
    failure is an :class:`AuditError`; nothing to compare with on purpose, :class:`NothingToCompareError`."""
    from tox_broker_audit.snapshot.capture import ProbeRequest, take_snapshot
    from tox_broker_audit.snapshot.io import load_snapshot
    from tox_broker_audit.snapshot.model import Source
    from tox_broker_audit.snapshot.reference import as_reference, load_reference, shown

    if plan is None:
        raise AuditError(plan_error or "no baseline")
    if plan.nothing is not None:
        raise NothingToCompareError(plan.nothing)
    try:
        if plan.reference_dir is not None:
            return load_reference(plan.reference_dir, env_name, root)
        if plan.snapshot_file is not None:
            return as_reference(load_snapshot(plan.snapshot_file), shown(plan.snapshot_file, root))
        assert plan.python is not None
        return take_snapshot(
            ProbeRequest(
                python=plan.python,
                cwd=root,
                env=dict(environ),
                invocation="pytest",
                pytest_args=selection,
                source=Source(
                    kind="plain-pytest",
                    name="baseline",
                    description=f"plain `{' '.join(('pytest', *selection))}` in {root} with {plan.found_by}",
                ),
                project_root=root,
                key=key,
            )
        )
    except AuditError:
        raise
    except Exception as exc:  # noqa: BLE001 - never let the audit break the run
        raise AuditError(f"internal error while taking the baseline: {type(exc).__name__}: {exc}") from None


def _selection(snapshot: Snapshot, root: str) -> tuple[str, ...]:
    from tox_broker_audit._command import selection_args

    return tuple(
        os.path.relpath(arg, root) if os.path.isabs(arg) and arg.startswith(root) else arg
        for arg in selection_args(snapshot.pytest.args, snapshot.meta.cwd)
    )


def selection_note(name: str, baseline: Snapshot | None, target: Snapshot | None, root: Path) -> str | None:
    """One line when the two runs did not select the same tests (a reference snapshot taken
    with other arguments): what only one side imported may come from that, not from tox.
    Test paths compare relative to the project ``root``."""
    if baseline is None or target is None:
        return None
    # Each against its own project root: a reference may come from another checkout.
    mine = _selection(baseline, baseline.meta.project_root or str(root))
    theirs = _selection(target, target.meta.project_root or str(root))
    if mine == theirs:
        return None
    return clean(
        f"broker-audit: {name}: the two runs collect different tests — baseline `{_command(mine)}`"
        f" ({baseline.pytest.collected} collected), target `{_command(theirs)}`"
        f" ({target.pytest.collected} collected); differences in what they import may come from that"
    )


def _command(selection: tuple[str, ...]) -> str:
    return " ".join(("pytest", *selection))


@dataclasses.dataclass(frozen=True)
class Captured:
    """Both sides' snapshots (None where capturing failed), the BA901 findings and lines."""

    target: Snapshot | None
    baseline: Snapshot | None
    failures: tuple[Finding, ...]
    lines: tuple[str, ...]


def capture(
    name: str,
    take_target: Callable[[], Snapshot],
    take_baseline: Callable[[], Snapshot],
    *,
    target_words: str = "the env",
) -> Captured:
    """Take the target, then the baseline; a side that fails is a BA901 finding and one line.

    ``take_baseline`` may be the ``result`` of a future started earlier: the baseline is
    waited for only after the target was taken.
    """
    failures: list[Finding] = []
    lines: list[str] = []
    taken: list[Snapshot | None] = []
    for side, take, words in (
        ("target", take_target, f"could not capture {target_words}"),
        ("baseline", take_baseline, "no baseline"),
    ):
        try:
            taken.append(take())
        except NothingToCompareError as exc:  # on purpose: one line, no finding
            taken.append(None)
            lines.append(clean(f"broker-audit: {name}: {exc}"))
        except AuditError as exc:
            taken.append(None)
            failures.append(probe_failure(side, str(exc)))
            lines.append(clean(f"broker-audit: {name}: {words}: {exc}"))
    return Captured(taken[0], taken[1], tuple(failures), tuple(lines))


def finish(  # noqa: PLR0917 - the two front doors' one call site each
    name: str,
    out_dir: Path,
    baseline: Snapshot | None,
    target: Snapshot | None,
    failures: list[Finding],
    lines: list[str],
    *,
    ignore: Sequence[str] = (),
    facts: Callable[[], ToxFacts | None] | None = None,
    output: OutputOptions = OutputOptions(),  # frozen: a shared default is safe
    outcome: str | None = None,
    verify: Callable[[Report], Report] | None = None,
) -> Report:
    """Diagnose, write the artefacts into ``out_dir`` and render ``output.formats``.

    ``outcome`` ("passed" | "failed"): how the audited test run ended, when known.
    ``verify``: the verify stage (re-probes of the target), run before anything is written.

    ``failures`` are the BA901 findings of the sides that could not be captured; ``lines``
    collects what the front door prints (the rendered text formats included). ``facts`` is
    called inside the diagnosis' guard, so a failure there is a BA901 too.
    """
    report = _build_report(
        name, baseline, target, failures, lines, ignore=ignore, facts=facts, outcome=outcome
    )
    if verify is not None:
        report = _verified(name, report, verify, lines)
    artefacts = _write_artefacts(out_dir, baseline, target, report, lines)
    _render_outputs(name, report, out_dir, artefacts, lines, output)
    return report


def _verified(name: str, report: Report, verify: Callable[[Report], Report], lines: list[str]) -> Report:
    """The verify stage (re-probes, docs/architecture.md); a failure there is one line, never more."""
    try:
        return verify(report)
    except Exception as exc:  # noqa: BLE001 - never let the audit break the run
        lines.append(clean(f"broker-audit: {name}: the verification failed: {type(exc).__name__}: {exc}"))
        return report


def _build_report(
    name: str,
    baseline: Snapshot | None,
    target: Snapshot | None,
    failures: list[Finding],
    lines: list[str],
    *,
    ignore: Sequence[str],
    facts: Callable[[], ToxFacts | None] | None,
    outcome: str | None = None,
) -> Report:
    from tox_broker_audit.diagnosis.engine import describe_snapshot, diagnose, diagnosis_failure_finding
    from tox_broker_audit.diagnosis.model import Report

    report: Report | None = None
    if target is not None:
        try:
            tox = facts() if facts is not None else None
            report = diagnose(baseline, target, env_name=name, ignore=tuple(ignore), tox=tox, outcome=outcome)
        except Exception as exc:  # noqa: BLE001 - never let the audit break the run
            message = f"the diagnosis failed: {type(exc).__name__}: {exc}"
            failures.append(diagnosis_failure_finding(message))
            lines.append(clean(f"broker-audit: {name}: {message}"))
    if report is None:
        report = Report(
            env=name,
            baseline=describe_snapshot(baseline),
            target=describe_snapshot(target),
            findings=(),
            outcome=outcome,
        )
    if failures:
        report = dataclasses.replace(report, findings=(*failures, *report.findings))
    return report


def _write_artefacts(
    out_dir: Path, baseline: Snapshot | None, target: Snapshot | None, report: Report, lines: list[str]
) -> tuple[str, ...]:
    from tox_broker_audit._files import write_text
    from tox_broker_audit.renderers import render
    from tox_broker_audit.renderers.json import report_to_dict
    from tox_broker_audit.snapshot.io import dump_snapshot

    written: list[Path] = []
    try:
        for snapshot, file_name in ((baseline, "baseline.json"), (target, "target.json")):
            if snapshot is not None:
                dump_snapshot(snapshot, out_dir / file_name)
                written.append(out_dir / file_name)
        report_file = out_dir / "report.json"
        write_text(report_file, json.dumps(report_to_dict(report), indent=1) + "\n")
        written.append(report_file)
        markdown = out_dir / "report.md"
        write_text(markdown, render(report, "markdown", artefacts=(str(report_file),)))
        written.append(markdown)
    except (OSError, AuditError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        lines.append(clean(f"broker-audit: cannot write artefacts to {out_dir}: {why}"))
    return tuple(display_path(path) for path in written)


def display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def _render_outputs(  # noqa: PLR0917 - one private call site
    name: str,
    report: Report,
    out_dir: Path,
    artefacts: tuple[str, ...],
    lines: list[str],
    output: OutputOptions,
) -> None:
    from tox_broker_audit._files import printable, write_text
    from tox_broker_audit.renderers import render

    for fmt in output.formats:
        try:
            if fmt in FILE_FORMATS:
                path = out_dir / FILE_FORMATS[fmt]
                write_text(
                    path,
                    render(
                        report, fmt, artefacts=artefacts, root=output.root, config_file=output.config_file
                    ),
                )
                lines.append(clean(f"broker-audit: {fmt} report written to {display_path(path)}"))
            else:
                text = render(
                    report,
                    fmt,
                    verbose=output.verbose,
                    color=output.color if fmt == "terminal" else None,
                    artefacts=artefacts,
                    root=output.root,
                    config_file=output.config_file,
                )
                lines.append(printable(text.rstrip("\n")))
        except Exception as exc:  # noqa: BLE001 - never let the audit break the run
            lines.append(clean(f"broker-audit: {name}: the {fmt} output failed: {type(exc).__name__}: {exc}"))
