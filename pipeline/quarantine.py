"""Reading the quarantine: rows that failed validation, with their reasons and raw text."""

from __future__ import annotations

from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from pipeline.errors import OrusageError
from pipeline.lake import Lake
from pipeline.options import command
from pipeline.summary import console_for_output


def _files(lake_root: Path) -> list[str]:
    root = Lake(lake_root).current_version()
    if root is None:
        raise OrusageError(f"no lake at {lake_root}", "Run `orusage ingest PATH` first, or pass --lake DIR.")
    return [str(p) for p in sorted((root / "quarantine").glob("*.parquet"))]


def _query(lake_root: Path, where: str, params: dict, limit: int | None) -> list[dict]:
    files = _files(lake_root)
    if not files:
        return []
    sql = (
        "SELECT run_id, source_file, source_line, id, reasons, raw, quarantined_at "
        f"FROM read_parquet($files) WHERE {where} "
        "ORDER BY run_id DESC, source_file, source_line"
    )
    if limit is not None:
        sql += " LIMIT $limit"
        params = {**params, "limit": limit}
    con = duckdb.connect()
    try:
        result = con.execute(sql, {"files": files, **params})
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    finally:
        con.close()


def list_rows(lake_root: Path, run_id: str | None = None, limit: int = 50) -> list[dict]:
    if run_id:
        return _query(lake_root, "starts_with(run_id, $run)", {"run": run_id}, limit)
    return _query(lake_root, "true", {}, limit)


def find_rows(lake_root: Path, where: str) -> list[dict]:
    """Rows by id, or by FILE:LINE where FILE is the path or a suffix of it."""
    file, sep, line = where.rpartition(":")
    if sep and line.isdigit() and file:
        rows = _query(
            lake_root,
            "source_line = $line AND (source_file = $file OR ends_with(source_file, '/' || $file))",
            {"line": int(line), "file": file},
            None,
        )
    else:
        rows = _query(lake_root, "id = $id", {"id": where}, None)
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
