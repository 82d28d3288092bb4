"""Options shared by the commands that read or write a lake (no heavy imports: `--help` stays fast)."""

from __future__ import annotations

import os
from pathlib import Path

import click


def default_lake() -> Path:
    """`$ORUSAGE_LAKE`, else `./lake`."""
    return Path(os.environ.get("ORUSAGE_LAKE") or "lake")


def lake_option(func):
    return click.option(
        "--lake",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Lake directory. Default: $ORUSAGE_LAKE, else ./lake.",
    )(func)


def resolve_lake(lake: Path | None) -> Path:
    return lake if lake is not None else default_lake()
