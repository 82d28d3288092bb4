"""The session of `orusage sql`: it only reads, and its shell (what `make sql` opens).

A session must never write files: a stray Parquet file under `<lake>/generations/` would be read
as lake data and break every later ingest. Two locks keep it from writing:

  * statements that write files are refused before they run: COPY (TO or FROM), EXPORT
    DATABASE, ATTACH (which creates database files), also inside PREPARE and EXPLAIN ANALYZE.
    Results are written with `orusage sql QUERY --format F --out FILE` instead;
  * DuckDB's configuration is locked (`lock_configuration`) once the views are open, so no SET or
    PRAGMA can point a writer (profiling output, temporary files, ...) at the lake. The time zone
    and a few other display settings stay free. Temporary files go to the system's temporary
    directory, not beside `<lake>/orusage.duckdb`.

The shell reads statements that end with `;` (the last may end without) from stdin, with dot-commands (`.help`, `.tables`,
`.schema`, `.quit`). On a terminal it reports an error and goes on; a script from a pipe stops at
the first failing statement with exit 1, like `duckdb -bail`, and one `Error:` line naming the
line the statement starts on.

Nothing here imports pyarrow or polars: `orusage sql` starts in well under a second.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import click

from pipeline.errors import EXIT_FAILED, EXIT_OK, OrusageError
from pipeline.schema import sqlfiles

# Settings a session may still change once the configuration is locked (none of them writes).
FREE_SETTINGS = ("TimeZone", "Calendar", "threads", "default_order", "default_null_order")

WRITE_FIX = "Write a query's result with `orusage sql QUERY --out FILE` (--format csv, json or parquet)."

_PREPARE = re.compile(r"^\s*PREPARE\s+\S+\s+AS\s+(.*)$", re.IGNORECASE | re.DOTALL)
_EXPLAIN = re.compile(r"^\s*EXPLAIN\s+(?:ANALY[SZ]E\s+)?(.*)$", re.IGNORECASE | re.DOTALL)

DOT_COMMANDS = (
    (".help", "this list"),
    (".tables", "the views (and any table you created)"),
    (".schema [NAME]", "the columns of a view and their types (all views without NAME)"),
    (".quit, .exit", "leave (also Ctrl-D)"),
)


class WriteRefused(OrusageError):
    """A statement that would write a file."""


def seal(con) -> None:
    """Lock the session's configuration (see the module docstring); call once the views are open."""
    con.execute("SET temp_directory = $dir", {"dir": os.path.join(tempfile.gettempdir(), f"orusage-sql-{os.getpid()}")})
    con.execute("SET allowed_configs = $names", {"names": list(FREE_SETTINGS)})
    con.execute("SET lock_configuration = true")


def _writer(con, text: str) -> str | None:
    """The kind of the first statement of `text` that would write a file (COPY, EXPORT, ...)."""
    import duckdb

    writers = {
        duckdb.StatementType.COPY: "COPY",
        duckdb.StatementType.COPY_DATABASE: "COPY FROM DATABASE",
        duckdb.StatementType.EXPORT: "EXPORT",
        duckdb.StatementType.ATTACH: "ATTACH",
    }
    try:
        statements = con.extract_statements(text)
    except duckdb.Error:
        return None  # not valid SQL: running it gives DuckDB's own error
    for statement in statements:
        if statement.type in writers:
            return writers[statement.type]
        inner = None
        if statement.type == duckdb.StatementType.PREPARE:
            inner = _PREPARE.match(statement.query)
        elif statement.type == duckdb.StatementType.EXPLAIN:
            inner = _EXPLAIN.match(statement.query)
        if inner is not None:
            found = _writer(con, inner.group(1))
            if found is not None:
                return found
    return None


def refuse_writes(con, text: str, what: str = "the query") -> None:
    """Raise WriteRefused when `text` holds a statement that would write a file."""
    kind = _writer(con, text)
    if kind is not None:
        raise WriteRefused(
            f"{kind} in {what} was refused: orusage sql writes no files, so the lake cannot change under it", WRITE_FIX
        )


# --- the shell ---------------------------------------------------------------------------------


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def _dot(con, command: str) -> bool:
    """Run a dot-command; False to leave the shell. Raises OrusageError for an unknown one."""
    name, _, arg = command.partition(" ")
    arg = arg.strip()
    if name in (".quit", ".exit"):
        return False
    if name == ".help":
        width = max(len(c) for c, _ in DOT_COMMANDS)
        click.echo("Statements end with ';' (they may span lines). Dot-commands:")
        for cmd, text in DOT_COMMANDS:
            click.echo(f"  {cmd:<{width}}  {text}")
        click.echo("Results are written with `orusage sql QUERY --out FILE`: this session writes no files.")
        return True
    if name == ".tables":
        names = sqlfiles.run_file(con, "shell_tables").fetchall()
        click.echo("  ".join(r[0] for r in names))
        return True
    if name == ".schema":
        rows = sqlfiles.run_file(con, "shell_columns", {"name": arg}).fetchall()
        if not rows:
            raise OrusageError(f"no view or table named {arg!r}", "List them with .tables.")
        current = None
        for table, column, kind in rows:
            if table != current:
                click.echo(f"{table}:")
                current = table
            click.echo(f"  {column} {kind}")
        return True
    raise OrusageError(f"unknown command {name}", "Type .help for the commands.")


def shell(con, lake_root: Path, interactive: bool | None = None) -> int:
    """Read statements from stdin and run them; returns the exit code (1: a script failed)."""
    import duckdb

    interactive = sys.stdin.isatty() if interactive is None else interactive
    if interactive:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history for input())
        click.echo(
            f"orusage sql shell on {lake_root}: views generations, provider_attempts, quarantine, runs.\n"
            "End a statement with ';'.  .help lists the commands, .tables the views, .quit (or Ctrl-D) leaves."
        )

    def failed(line: int, message: str) -> bool:
        """Report an error; True when the shell must stop (a script)."""
        click.echo(f"Error: line {line}: {message}", err=True)
        return not interactive

    def run(statement: str, line: int) -> bool:
        """Run one statement and print its rows; False when the shell must stop."""
        try:
            refuse_writes(con, statement, "the statement")
            relation = con.sql(statement)
            if relation is not None:
                write_relation(relation, "table", None, notes_to_stderr=False)
        except (duckdb.Error, OrusageError) as exc:
            what = f"{exc.what}. {exc.fix}" if isinstance(exc, OrusageError) else _sentence(_first_line(exc))
            return not failed(line, what + ("" if interactive else " The script stopped here."))
        return True

    buffer: list[str] = []
    start = number = 0
    while True:
        try:
            line = input(("orusage> " if not buffer else "     ..> ") if interactive else "")
        except EOFError:
            break
        except KeyboardInterrupt:
            buffer = []
            click.echo("")
            continue
        number += 1
        text = line.strip()
        if not buffer and text.startswith((".", "\\q")):
            try:
                if text == "\\q" or not _dot(con, text):
                    return EXIT_OK
            except (duckdb.Error, OrusageError) as exc:
                what = f"{exc.what}. {exc.fix}" if isinstance(exc, OrusageError) else _first_line(exc)
                if failed(number, what):
                    return EXIT_FAILED
            continue
        if not buffer and not text:
            continue
        if not buffer:
            start = number
        buffer.append(line)
        if text.endswith(";"):
            statement, buffer = "\n".join(buffer), []
            if not run(statement, start):
                return EXIT_FAILED
    if buffer and not run("\n".join(buffer), start):  # the last statement may end without ';'
        return EXIT_FAILED
    return EXIT_OK


def write_relation(relation, fmt: str, out: Path | None, max_table_rows: int = 1000, notes_to_stderr: bool = True) -> None:
    import duckdb

    from pipeline.render.text import cell_text, json_value

    try:
        if fmt == "parquet":
            relation.write_parquet(str(out))
            click.echo(f"wrote {out}", err=True)
            return
        columns = relation.columns
        rows = relation.fetchall()
    except duckdb.Error as exc:
        raise OrusageError(f"the query failed: {str(exc).strip().splitlines()[0]}", "Fix the SQL and run it again.") from None
    if fmt == "table":
        from rich.console import Console
        from rich.table import Table

        table = Table(header_style="bold")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows[:max_table_rows]:
            table.add_row(*(cell_text(v) if v is not None else "NULL" for v in row))
        if out:
            with open(out, "w", encoding="utf-8") as handle:
                Console(file=handle, width=200).print(table)
        else:
            Console().print(table)
        more = f" (first {max_table_rows} shown; --format csv --out FILE for all)" if len(rows) > max_table_rows else ""
        sys.stdout.flush()
        click.echo(f"{len(rows)} row(s){more}", err=notes_to_stderr)
        return
    if fmt == "csv":
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([cell_text(v) for v in row] for row in rows)
        text = buffer.getvalue()
    else:
        lines = [json.dumps({c: json_value(v) for c, v in zip(columns, row, strict=True)}, default=str) for row in rows]
        text = "[\n" + ",\n".join(lines) + ("\n" if lines else "") + "]\n"
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
