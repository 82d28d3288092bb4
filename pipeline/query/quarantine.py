"""Reading the quarantine: rows that failed validation, with their reasons and raw text."""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import OrusageError
from pipeline.hints import command
from pipeline.lake import views
from pipeline.lake.store import Lake
from pipeline.schema import sqlfiles


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
