"""Reading the quarantine: rows that failed validation, with their reasons and raw text."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from pipeline import sqlfiles, views
from pipeline.errors import OrusageError
from pipeline.lake import Lake
from pipeline.options import command
from pipeline.summary import console_for_output


def _query(lake_root: Path, limit: int | None = None, **filters) -> list[dict]:
    """Rows of sql/quarantine_rows.sql over the lake's `quarantine` view; `filters` are its
    parameters run, id, line, file (those not given are off)."""
    if Lake(lake_root).current_version() is None:
        raise OrusageError(f"no lake at {lake_root}", "Run `orusage ingest PATH` first, or pass --lake DIR.")
    params = {"run": None, "id": None, "line": None, "file": None, **filters, "limit": limit}
    con = views.connect(lake_root)
    try:
        relation = sqlfiles.run_file(con, "quarantine_rows", params)
        names = relation.columns
        return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]
    finally:
        con.close()


def list_rows(lake_root: Path, run_id: str | None = None, limit: int = 50) -> list[dict]:
    return _query(lake_root, limit, run=run_id or None)


def find_rows(lake_root: Path, where: str) -> list[dict]:
    """Rows by id, or by FILE:LINE where FILE is the path or a suffix of it."""
    file, sep, line = where.rpartition(":")
    by_line = bool(sep and line.isdigit() and file)
    rows = _query(lake_root, line=int(line), file=file) if by_line else _query(lake_root, id=where)
    if not rows:
        raise OrusageError(f"no quarantined row matches {where!r}", f"List them with `{command('quarantine')}`.")
    return rows


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
