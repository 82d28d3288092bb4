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


def console_for_output() -> Console:
    """A terminal console; when output is piped (cron, files), a fixed width wide enough for
    the tables instead of rich's default 80 columns."""
    console = Console()
    return console if console.is_terminal else Console(width=120)


def render_summary(summary: dict, console: Console | None = None, hint: str | None = None) -> None:
    """The run's table and counts; `hint` is the command that lists the quarantined rows."""
    console = console or console_for_output()
    skipped = any(item["skipped"] for item in summary["file_details"])
    table = Table(title=f"ingest run {summary['run_id']}", show_header=True, header_style="bold")
    columns = ["file", "rows read", "written", "quarantined", "duplicate"] + (["note"] if skipped else [])
    for column in columns:
        table.add_column(column, justify="left" if column in ("file", "note") else "right", overflow="fold")
    for item in summary["file_details"]:
        cells = [
            display_path(item["path"]),
            f"{item['rows_read']:,}",
            f"{item['rows_written']:,}",
            f"{item['rows_quarantined']:,}",
            f"{item['rows_duplicate']:,}",
        ]
        table.add_row(*cells, *([f"skipped: {item['skipped']}" if item["skipped"] else ""] if skipped else []))
    total = [
        f"[bold]total ({summary['files']} read, {summary['files_skipped']} skipped)[/bold]",
        f"{summary['rows_read']:,}",
        f"{summary['rows_written']:,}",
        f"{summary['rows_quarantined']:,}",
        f"{summary['rows_duplicate']:,}",
    ]
    table.add_row(*total, *([""] if skipped else []))
    console.print(table)
    ignored = summary.get("files_ignored") or []
    if ignored:
        from pipeline.sources.files import describe_ignored

        text = describe_ignored([(os.path.basename(item["path"]), item["reason"]) for item in ignored])
        console.print(f"files in the directories given: {text}", soft_wrap=True)
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
        if hint is None:
            from pipeline.hints import command

            hint = command("quarantine")
        console.print(f"see the quarantined rows and their reasons with: {hint}", markup=False, soft_wrap=True)
