"""The human form of an ingest run summary (the JSON form is the summary itself)."""

from __future__ import annotations

import os

from rich.console import Console
from rich.table import Table


def display_path(path: str) -> str:
    """A path as the user would type it: relative to the working directory when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def render_summary(summary: dict, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=f"ingest run {summary['run_id']}", show_header=True, header_style="bold")
    for column in ("file", "rows read", "written", "quarantined", "duplicate", "note"):
        table.add_column(column, justify="left" if column in ("file", "note") else "right", overflow="fold")
    for item in summary["file_details"]:
        table.add_row(
            display_path(item["path"]),
            f"{item['rows_read']:,}",
            f"{item['rows_written']:,}",
            f"{item['rows_quarantined']:,}",
            f"{item['rows_duplicate']:,}",
            f"skipped: {item['skipped']}" if item["skipped"] else "",
        )
    table.add_row(
        "[bold]total[/bold]",
        f"{summary['rows_read']:,}",
        f"{summary['rows_written']:,}",
        f"{summary['rows_quarantined']:,}",
        f"{summary['rows_duplicate']:,}",
        f"{summary['files']} read, {summary['files_skipped']} skipped",
    )
    console.print(table)
    for warning in summary["warnings"]:
        if warning["kind"] == "extra_key":
            text = f"unknown top-level key [bold]{warning['value']}[/bold] kept in _extra"
        else:
            text = f"unknown value [bold]{warning['value']}[/bold] of {warning['field']} kept"
        console.print(f"[yellow]warning:[/yellow] {text} ({warning['rows']:,} rows)", soft_wrap=True)
    console.print(
        f"lake: {display_path(summary['lake'])}   rows read {summary['rows_read']:,} = written {summary['rows_written']:,}"
        f" + quarantined {summary['rows_quarantined']:,} + duplicate {summary['rows_duplicate']:,}"
        f"   in {summary['seconds']:.2f} s",
        soft_wrap=True,
    )
    if summary["rows_quarantined"]:
        console.print("see the quarantined rows and their reasons with: orusage quarantine")
