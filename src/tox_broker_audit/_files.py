"""Writing what the user asked for, safely: text that always encodes, files replaced atomically.

- :func:`printable` makes any ``str`` encodable as UTF-8: a lone surrogate (a non-UTF-8 byte
  of an environment value or a path, decoded with ``surrogateescape``) becomes ``\\udcff``
  text instead of a ``UnicodeEncodeError`` that loses the whole report.
- :func:`write_text` writes a new file or replaces a *regular* one atomically (a temporary
  file in the same directory, then a rename): a FIFO, a device, a directory or a path under a
  file is refused with one line (:class:`AuditError`), never replaced by a regular file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from tox_broker_audit._errors import AuditError

__all__ = ["check_output_path", "printable", "write_text"]

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def printable(text: str) -> str:
    """``text`` with every lone surrogate written as a ``\\udcXX`` escape (valid UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _kind(mode: int) -> str:
    return next((words for test, words in _KINDS if test(mode)), "not a regular file")


def check_output_path(path: Path) -> Path:
    """The file to write for ``path`` (a symlink's regular target), or :class:`AuditError`."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        info = None
    except NotADirectoryError:
        msg = f"cannot write {path}: a parent of it is a file, not a directory"
        raise AuditError(msg) from None
    except OSError as exc:
        msg = f"cannot write {path}: {exc.strerror or exc}"
        raise AuditError(msg) from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        msg = f"cannot write {path}: it is {_kind(info.st_mode)}, not a regular file"
        raise AuditError(msg)
    real = Path(os.path.realpath(path)) if info is not None else path
    for parent in real.parents:
        if parent.exists():
            if not parent.is_dir():
                msg = f"cannot write {path}: {parent} is a file, not a directory"
                raise AuditError(msg)
            break
    return real


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; one-line :class:`AuditError` on failure."""
    real = check_output_path(path)
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        mode = real.stat().st_mode & 0o7777 if real.exists() else None
        # Created with 0o666 so that the umask applies, as for any new file.
        tmp = str(real.parent / f".{real.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        msg = f"cannot write {path}: {exc.strerror or exc}"
        raise AuditError(msg) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace", newline="") as fh:
            fh.write(text)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, real)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        msg = f"cannot write {path}: {exc.strerror or exc}"
        raise AuditError(msg) from None
