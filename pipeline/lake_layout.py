"""Where the lake keeps its versions: the part of `pipeline.lake` that needs no pyarrow, so that
`orusage sql` and other readers of the views start quickly."""

from __future__ import annotations

import os
from pathlib import Path

VERSIONS = "_versions"  # <lake>/_versions/<run_id>: published versions (<run_id>.tmp: being built)
STAGING = "_staging"  # <lake>/_staging/<run_id>: a running writer's scratch files
CURRENT = "current"  # <lake>/current -> _versions/<run_id>: the published version


def current_version(root: Path) -> Path | None:
    """The published version directory of the lake at `root`, or None for a lake that has none yet."""
    link = Path(root) / CURRENT
    if not link.is_symlink():
        return None
    return (Path(root) / os.readlink(link)).resolve()
