"""Options and help texts shared by every command, defined once (no heavy imports: `--help` stays fast).

Every command that reads or writes a lake takes `--lake` and `--config` and finds the lake the
same way, through the settings (pipeline/ops/config.py):

    --lake DIR  >  $ORUSAGE_LAKE  >  `lake` of the settings file  >  ./lake

where the settings file is `--config FILE`, else `$ORUSAGE_CONFIG`, else `./orusage.toml` when it
exists. `--tz` of `orusage report` resolves the same way over `$ORUSAGE_TIMEZONE` and `timezone`.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# --- the options ---------------------------------------------------------------------------------


def lake_option(func):
    return click.option(
        "--lake",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        metavar="DIR",
        help="Lake directory. Default: $ORUSAGE_LAKE, else `lake` of the settings file, else ./lake.",
    )(func)


def config_option(func):
    return click.option(
        "--config",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        metavar="FILE",
        help="Settings file (docs/operations.md). Default: $ORUSAGE_CONFIG, else ./orusage.toml when present.",
    )(func)


def json_option(what: str = "the result", *, lines: bool = False):
    """`--json`: print WHAT as one JSON object on stdout (`lines`: one JSON object per row)."""
    shape = "JSON lines (one object per row)" if lines else "one JSON object"

    def decorate(func):
        return click.option("--json", "as_json", is_flag=True, help=f"Print {what} as {shape} on stdout.")(func)

    return decorate


def wait_option(func):
    return click.option(
        "--wait",
        type=click.FloatRange(min=0),
        default=None,
        metavar="SECONDS",
        help="Wait up to SECONDS for the lake lock before exit 75. Default: lock_wait_seconds of the settings, 0.",
    )(func)


def schema_contract_option(func):
    return click.option(
        "--schema-contract",
        type=click.Choice(["evolve", "freeze"]),
        default=None,
        help="evolve: keep unknown top-level keys in the `_extra` column; freeze: quarantine such rows. "
        "Default: schema_contract of the settings, evolve.",
    )(func)


def lake_root(found) -> Path:
    """The lake of the settings as the user would write it: relative to the working directory
    when inside it (so messages and reports say `lake`, not a long absolute path)."""
    path = Path(found.lake)
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else Path(relative)


def inherited(ctx: click.Context, name: str, value):
    """An option of a subcommand, else the same option given to its group
    (`orusage quarantine --lake DIR show ...`)."""
    parent = ctx.parent
    while value is None and parent is not None:
        value = parent.params.get(name)
        parent = parent.parent
    return value


# --- help texts ----------------------------------------------------------------------------------


# The exit codes of a writer stopped by a signal (the run's unpublished work removed, the lock released).
STOP_CODES = {
    130: "stopped by Ctrl-C; nothing of the run was published; run it again",
    143: "stopped by SIGTERM; nothing of the run was published; run it again",
}


def epilog(codes: dict[int, str], examples: str, title: str | None = None) -> str:
    """The end of a command's help: its exit codes, then its example(s), last. `examples` holds
    one command a line (a continuation line is indented)."""
    lines = ["\b", "Exit codes:"]
    for code, text in codes.items():
        wrapped = textwrap.wrap(text, 66) or [""]
        lines.append(f"  {code:<4}{wrapped[0]}")
        lines.extend(f"      {more}" for more in wrapped[1:])
    body = textwrap.dedent(examples).strip("\n")
    if title is None:
        title = "Examples:" if sum(1 for line in body.splitlines() if line[:1].strip()) > 1 else "Example:"
    return "\n".join(lines) + "\n\n\b\n" + title + "\n" + textwrap.indent(body, "  ")
