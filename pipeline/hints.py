"""How a user runs orusage again from where they are: the commands that messages suggest."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path


def _shown(path: str) -> str:
    """A path as the user would type it: relative to the working directory when inside it."""
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute)
    except ValueError:
        return absolute
    if relative.startswith(".."):
        return absolute
    return relative if os.sep in relative else os.path.join(".", relative)


def _on_path(path: str) -> bool:
    """Whether the shell finds `path` by its bare name."""
    found = shutil.which(os.path.basename(path))
    return found is not None and os.path.abspath(found) == os.path.abspath(path)


def program() -> str:
    """The command that runs orusage again from here, as it was started: `orusage` when the shell
    finds it by that name, else its path (`.venv/bin/orusage` before the venv is activated), or
    `PYTHON -m pipeline`."""
    argv0 = sys.argv[0] if sys.argv else ""
    name = os.path.basename(argv0)
    if name == "__main__.py" and os.path.basename(os.path.dirname(argv0)) == "pipeline":
        python = os.path.basename(sys.executable) if _on_path(sys.executable) else _shown(sys.executable)
        return f"{shlex.quote(python)} -m pipeline"
    if name != "orusage" or _on_path(argv0):
        return "orusage"
    return shlex.quote(_shown(argv0))


def command(*args: str | Path) -> str:
    """`orusage ARGS` as a line to copy, with the program as it was started (see `program`)."""
    return " ".join([program(), *(shlex.quote(str(a)) for a in args)])
