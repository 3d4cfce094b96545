"""The probe's shared recording state, and the frame helpers every recorder uses.

Stdlib only, Python 3.9+. Executed inside the audited interpreter as the top-level module
``_tba_state``. Every recorder (environment, imports, ``site``, pytest, dramatiq) notes what
it sees in the one :data:`STATE` of the run; the sections read it at the end. It lives in its
own module so that the recorder modules need not import each other.

``STATE.guard`` is raised while the probe's own code touches ``os.environ`` or imports
something: what the probe does must not show up as something the target did.
"""

from __future__ import annotations

import os
import sys

import _tba_redact as redact

__all__ = [
    "OWN_MODULES",
    "SKIP_FILE_PARTS",
    "STATE",
    "State",
    "frame_info",
    "interesting_frame",
    "module_file",
]

#: Module names of the probe itself (all ``_tba_*``; the entry script runs as ``__main__``):
#: never recorded as imported or loaded by the target.
#: ``__mp_main__`` is multiprocessing's alias of the entry script (Celery, billiard import it).
OWN_MODULES = ("_tba_", "__main__", "__mp_main__")
#: Frames in these files are machinery (``os``, the import system, the probe), not the code
#: that acted.
SKIP_FILE_PARTS = (
    "<frozen os>",
    "<frozen importlib",
    "<frozen _collections_abc>",
    "<frozen posixpath>",
    "importlib/",
    "_collections_abc.py",
    "_tba_",
)


class State:
    """Mutable recording state of one probe run (the probe is a script: one instance)."""

    def __init__(self) -> None:
        self.phase = "startup"
        self.startup_origin: str | None = None  # the .pth / sitecustomize being processed
        self.reads: list[dict] = []
        self.writes: list[dict] = []
        self.read_keys: set = set()
        self.imports: list[dict] = []
        self.failed_imports: list[dict] = []  # imports no finder found (``_tba_imports``)
        self.failed_keys: set = set()
        self.errors: list[dict] = []
        self.guard = 0  # >0 while our own code touches os.environ / imports
        self.env_at_start: dict = {}  # os.environ as the interpreter started, before anything ran

    def error(self, section: str, message: str) -> None:
        self.errors.append({"section": section, "message": redact.redact_text(message)})


STATE = State()


def interesting_frame(depth: int = 2):
    """First frame outside os/importlib/abc machinery and the probe: the code that acted."""
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return None
    os_file = getattr(os, "__file__", None) or "<frozen os>"
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename not in (os_file, "<frozen os>") and not any(p in filename for p in SKIP_FILE_PARTS):
            return frame
        frame = frame.f_back  # type: ignore[assignment]  # None ends the loop (types is not imported)
    return None


def frame_info(frame) -> tuple[str | None, int | None, str | None]:
    """``(file, line, module)`` of a frame; an executable ``.pth`` line is named by its file."""
    if frame is None:
        return None, None, None
    filename = frame.f_code.co_filename
    module = frame.f_globals.get("__name__")
    if filename in ("<string>", "<stdin>") and STATE.startup_origin:
        return STATE.startup_origin, None, module
    return filename, frame.f_lineno, module


def module_file(module) -> str | None:
    """The absolute ``__file__`` of a module, if it has one."""
    file = getattr(module, "__file__", None)
    if isinstance(file, str):
        return os.path.abspath(file)
    return None
