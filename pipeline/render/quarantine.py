"""The quarantine listing for people: one line per row, or one row in full with its raw text."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from pipeline.hints import command
from pipeline.render.summary import console_for_output


def render_rows(rows: list[dict], lake_root: Path, console: Console | None = None) -> None:
    console = console or console_for_output()
    if not rows:
        console.print(f"The quarantine of {lake_root} is empty.")
        return
    table = Table(show_header=True, header_style="bold")
    for column in ("run", "file:line", "id", "reasons"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["run_id"],
            f"{Path(row['source_file']).name}:{row['source_line']}",
            row["id"] or "",
            "\n".join(row["reasons"]),
        )
    console.print(table)
    console.print(f"{len(rows)} row(s); full text of one: {command('quarantine', 'show', 'FILE:LINE')}", markup=False)


def render_full(rows: list[dict], console: Console | None = None) -> None:
    console = console or console_for_output()
    for row in rows:
        console.print(f"[bold]{row['source_file']}:{row['source_line']}[/bold]  run {row['run_id']}")
        for reason in row["reasons"]:
            console.print(f"  - {reason}", markup=False)
        console.print("  raw:", markup=False)
        console.print("  " + row["raw"], markup=False, soft_wrap=True)
