"""``--broker-audit-fix``: the confirmed causes' change of the tox config, shown, written, re-checked.

``diff``: the unified diff of every config file the causes the failing tests confirmed change
(``fix/``), printed under the env and written to ``.tox/<env>/broker-audit/fix.diff``.
``apply``: the diff, then the change written — never into a file with uncommitted git changes —
and the env re-run by a plain ``tox run -e <env>`` with what this invocation was given (config,
root, work dir, overrides, hash seed, positional arguments; the audit off). A separate run, so
that tox reads the file as changed: a new ``pass_env`` reaches the commands, a new ``deps`` line
is installed. Its exit code becomes the env's; when it still fails, or is interrupted, every
file written is put back byte for byte. Several causes needed together are written together.

Under ``tox run-parallel`` the envs are threads of one process: one lock serialises the writes
and re-runs, and a change another env already wrote is re-run, not written twice.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import threading

    from tox_broker_audit.diagnosis.model import Report
    from tox_broker_audit.fix import ConfigEdit, FixPlan

__all__ = ["AuditRun", "fix_env", "rerun_command"]


class AuditRun(Protocol):
    """What the fix needs of the tox invocation's audit (``_tox.run.AuditRun``)."""

    options: Any
    tox_root: Path
    work_dir: Path
    config_file: Path | None
    environ: dict[str, str]
    pos_args: tuple[str, ...]
    fix_lock: threading.Lock
    originals: dict[str, str]

    def original_text(self, path: str) -> str: ...


#: pytest's summary line (``==== 2 passed, 1 skipped in 0.12s ====``, or ``-q``'s bare one).
_SUMMARY = re.compile(
    r"(\d+ (?:passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?)\b.*?) in [\d.]+s"
)
_FLAGS = {
    "develop": "--develop",
    "no_recreate_pkg": "--no-recreate-pkg",
    "skip_pkg_install": "--skip-pkg-install",
    "skip_env_install": "--skip-env-install",
}


def fix_env(
    run: AuditRun, name: str, report: Report, *, mode: str, out_dir: Path, say: Callable[[str], None]
) -> int | None:
    """Show or apply the fix of ``report`` (``fix.diff`` into ``out_dir``); the exit code the
    env ends with (None: tox's own)."""
    from tox_broker_audit.fix import plan_report

    prefix = f"broker-audit: {name}: "
    with run.fix_lock:
        current = plan_report(report)
        for line in current.suggestions:
            say(f"{prefix}fix: not a change of the tox config, not written: {line}")
        already = not current.edits and bool(plan_report(report, read=run.original_text).edits)
        if not current.edits and not already:
            if not current.suggestions:
                say(f"{prefix}fix: no confirmed cause changes the tox config: nothing to {mode}")
            return None
        if current.edits:
            say(_show(current, run.tox_root, out_dir, prefix).rstrip("\n"))
        if mode != "apply":
            return None
        blocked = [e.path for e in current.edits if e.path not in run.originals and _dirty(e.path)]
        if blocked:
            files = ", ".join(_shown(p, run.tox_root) for p in blocked)
            diff = out_dir / "fix.diff"
            say(
                f"{prefix}fix: {files} has uncommitted changes: not written (the diff is above and in {diff})"
            )
            return None
        return _apply(run, name, current, already, say)


def _apply(run: AuditRun, name: str, fixes: FixPlan, already: bool, say: Callable[[str], None]) -> int:
    prefix = f"broker-audit: {name}: "
    written = _write(run, fixes.edits)
    where = "; ".join(_where(e, run.tox_root) for e in fixes.edits) or "the change another env wrote"
    if already:
        say(
            f"{prefix}fix: the tox config already has the change (written for another env): re-running {name}"
        )
    try:
        code, summary = _rerun(run, name, say)
    except BaseException:
        _restore(written)
        raise
    if code == 0:
        say(f"{prefix}fixed: {where} — {name} now passes{f' ({summary})' if summary else ''}")
        return 0
    _restore(written)
    files = ", ".join(_shown(e.path, run.tox_root) for e in written)
    back = f": {files} put back as it was" if written else ""
    say(
        f"{prefix}fix: {name} still fails with {where} (exit {code}{f', {summary}' if summary else ''}){back}"
    )
    return code


def _show(fixes: FixPlan, root: Path, out_dir: Path, prefix: str) -> str:
    from tox_broker_audit._files import write_text

    text = "".join(edit.diff(_shown(edit.path, root)) for edit in fixes.edits)
    try:
        write_text(out_dir / "fix.diff", text)
    except OSError as exc:
        text += f"{prefix}fix: cannot write {out_dir / 'fix.diff'}: {exc.strerror or exc}\n"
    return text


def _write(run: AuditRun, edits: Sequence[ConfigEdit]) -> list[ConfigEdit]:
    written: list[ConfigEdit] = []
    try:
        for edit in edits:
            run.originals.setdefault(edit.path, edit.before)
            _put(edit.path, edit.after)
            written.append(edit)
    except OSError:
        _restore(written)
        raise
    return written


def _restore(written: Sequence[ConfigEdit]) -> None:
    for edit in reversed(written):
        _put(edit.path, edit.before)


def _put(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def _dirty(path: str) -> bool:
    from tox_broker_audit.fix import dirty

    return dirty(path)


def _where(edit: ConfigEdit, root: Path) -> str:
    """``tox.ini:7 pass_env += UNIT_TESTS``: the first line that is new (or, for a removal, went)."""
    import difflib

    old, new = edit.before.splitlines(), edit.after.splitlines()
    ops = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    first = next(((tag, i1, j1) for tag, i1, _i2, j1, _j2 in ops if tag != "equal"), None)
    at = _shown(edit.path, root)
    if first is not None:
        at += f":{(first[1] if first[0] == 'delete' else first[2]) + 1}"
    words = "; ".join(change.split("] ", 1)[-1] for change in edit.changes)
    return f"{at} {words}".strip()


def _shown(path: str, root: Path) -> str:
    from tox_broker_audit.fix import shown_path

    return shown_path(path, str(root))


def rerun_command(run: AuditRun, name: str) -> list[str]:
    """``tox run -e NAME`` with what this invocation was given, the audit off."""
    options: Any = run.options
    args = [sys.executable, "-m", "tox", "run", "-e", name, "--root", str(run.tox_root)]
    args += ["--workdir", str(run.work_dir), "--colored", "no"]
    if run.config_file is not None:
        args += ["-c", str(run.config_file)]
    for override in getattr(options, "override", None) or ():
        args += ["-x", str(override)]
    seed = getattr(options, "hash_seed", None)
    if isinstance(seed, int):
        args += ["--hashseed", str(seed)]
    if getattr(options, "install_pkg", None):
        args += ["--installpkg", str(options.install_pkg)]
    for path in getattr(options, "discover", None) or ():
        args += ["--discover", str(path)]
    args += [flag for attr, flag in _FLAGS.items() if getattr(options, attr, False) is True]
    return [*args, "--", *run.pos_args] if run.pos_args else args


def _rerun(run: AuditRun, name: str, say: Callable[[str], None]) -> tuple[int, str]:
    """Run the env again, its output shown as it comes; its exit code and pytest's summary."""
    environ = {k: v for k, v in run.environ.items() if not k.startswith("TOX_BROKER_AUDIT")}
    environ["TOX_BROKER_AUDIT"] = "false"  # also when the user's tox config turns it on
    summary = ""
    with subprocess.Popen(
        rerun_command(run, name),
        cwd=os.getcwd(),
        env=environ,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            say(line.rstrip("\n"))
            found = _SUMMARY.search(line)
            summary = found.group(1).strip(" =") if found else summary
    return proc.returncode, summary
