"""`orusage report` and `orusage sql`: parse options, call the library, print.

Registered on the `orusage` group by pipeline/cli/main.py; the group turns an OrusageError into one
line `Error: what. fix` and its exit code. Imports stay light here (no pyarrow, polars or rich at
import time): `orusage sql` must start in well under a second.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from pipeline.cli.options import (
    CONTEXT,
    config_option,
    epilog,
    lake_option,
    lake_root,
)
from pipeline.errors import OptionError, OrusageError
from pipeline.ops.config import settings
from pipeline.schema import dimensions

REPORT_EXIT_CODES = {
    0: "done (also when nothing matches: a message says so on stderr)",
    1: "the command could not run (no lake, a failing query): one line `Error: ...` on stderr",
    2: "usage error: a bad option or option value (--by, --tz, --since, --until, --where, --top, "
    "...), or a bad setting; one line naming the option",
}

SQL_EXIT_CODES = {
    0: "done",
    1: "the command could not run (no lake, a failing query, a statement that would write a file: "
    "use --out); in a piped script, the first statement that fails stops it",
    2: "usage error: a bad option or option value (-p, --format, ...), or a bad setting",
}

# --- engines ---------------------------------------------------------------------------------

ENGINE_HELP = (
    "duckdb (in this process, the default) or spark: Apache Spark runs the same SQL, translated "
    "(needs `pip install 'orusage[spark]'` and Java 17; docs/scaling.md)."
)


def engine_options(func):
    """--engine and --spark-remote, shared by report and sql."""
    func = click.option(
        "--spark-remote",
        metavar="sc://HOST:PORT",
        default=None,
        help="With --engine spark: a Spark Connect server instead of Spark in this process. "
        "Default: $ORUSAGE_SPARK_REMOTE, else `spark_remote` of the settings file.",
    )(func)
    return click.option(
        "--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True, help=ENGINE_HELP
    )(func)


# --- report ----------------------------------------------------------------------------------


def _instant(ctx, param, text: str | None):
    """--as-of: an ISO 8601 instant; without an offset it is UTC."""
    if text is None:
        return None
    from datetime import UTC, datetime

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise OptionError(
            f"--as-of {text!r} is not a date-time", "Write --as-of 2026-10-28T07:00:00Z (ISO 8601; no offset: UTC)."
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _zone(ctx, param, value: str | None) -> str | None:
    """--tz: an IANA time zone (checked here, so a bad one is a usage error)."""
    if value is None:
        return None
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise OptionError(
            f"--tz {value!r} is not a known time zone", "Give an IANA name such as UTC, Europe/Berlin or America/New_York."
        ) from None
    return value


@click.command(
    context_settings=CONTEXT,
    epilog=epilog(
        REPORT_EXIT_CODES,
        """
        orusage report                                   # the default picture of the lake
        orusage report --by model --granularity week --tz Europe/Berlin --since 2026-09-01
        orusage report --where data_region=europe --top 5 --format csv --out report.csv
        orusage report --since 2026-10-08 --format html --out report.html   # a page with charts
        orusage report --since 7d --by model          # the last 7 days (--until 1d, --month 2026-10)
        """,
    ),
)
@lake_option
@config_option
@click.option(
    "--by",
    "by",
    default=",".join(dimensions.default_names()),
    show_default=True,
    metavar="DIMS",
    help=f"1 to {dimensions.MAX_DIMS} comma-separated dimensions, shown together and each alone. From: {dimensions.listing()}.",
)
@click.option(
    "--granularity",
    type=click.Choice(["day", "week", "month"]),
    default=None,
    help="Add periods: every breakdown per day, ISO week (from Monday) or month, in --tz.",
)
@click.option(
    "--since",
    metavar="DATE|AGO",
    help="Start, INCLUSIVE: YYYY-MM-DD or 'YYYY-MM-DD HH:MM', local time in --tz; or a duration counted back from "
    "--as-of (now): 7d, 30d, 12w.",
)
@click.option(
    "--until", metavar="DATE|AGO", help="End, EXCLUSIVE: a local date or date-time as --since, or a duration such as 1d."
)
@click.option("--month", metavar="YYYY-MM", help="The calendar month in --tz: --since its first day, --until the next month's.")
@click.option(
    "--as-of",
    "as_of",
    metavar="INSTANT",
    callback=_instant,
    help="The 'now' that durations count back from (ISO 8601; no offset: UTC). Default: now.",
)
@click.option(
    "--tz",
    default=None,
    metavar="ZONE",
    callback=_zone,
    help="IANA time zone of periods, --since and --until (e.g. Europe/Berlin); days of 23 or 25 hours across DST. "
    "Default: $ORUSAGE_TIMEZONE, else `timezone` of the settings file, else UTC.",
)
@click.option(
    "--where",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Keep rows whose FIELD (a dimension) is VALUE; repeat: values of one field are alternatives, "
    "fields combine. VALUE (null) matches null, (empty) the empty string.",
)
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Keep the N largest groups of each breakdown by spend and fold the rest into one (other) row "
    "(totals still add up). Default: 10 for table, md and html, every group for csv, json, parquet; 0: every group.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json", "md", "parquet", "html"]), default="table",
    show_default=True, help="Output: terminal tables, or a file format (docs/report.md lists the columns).",
)  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write to FILE (needed for parquet).")
@engine_options
def report(lake, config, by, granularity, since, until, month, as_of, tz, where, top, fmt, out, engine, spark_remote):
    """Usage, cost, latency and reliability by model, provider, region and app.

    An overview (period, requests, spend, tokens, savings, error and fallback rates) and one
    breakdown per dimension set: the --by dimensions together, then each alone, with the same
    metrics per group. Every number is computed by DuckDB from the lake (sql/report.sql), or by
    Apache Spark with --engine spark (the same SQL, translated; the same rows).

    csv, json and parquet hold one row per (breakdown, period, group) with stable column names,
    listed with their units in docs/report.md, so a scheduled run's output can be diffed. The
    `latency` percentiles are the recorded `latency` field, which behaves like time to first token.
    """
    from pipeline.query.report import (
        DEFAULT_TOP_ON_SCREEN,
        ReportOptions,
        check_options,
        gather_page,
        parse_dims,
        parse_where,
        resolve_period,
        run_report,
    )
    from pipeline.render.output import render

    if fmt == "parquet" and out is None:
        raise click.UsageError("--format parquet writes a file: pass --out FILE.parquet.")
    found = settings(config, lake=lake, timezone=tz, spark_remote=spark_remote)
    outside_lake(out, found.lake)
    if top is None:
        top = DEFAULT_TOP_ON_SCREEN if fmt in ("table", "md", "html") else None
    try:
        since, until = resolve_period(since, until, month=month, as_of=as_of, tz=found.timezone)
        options = ReportOptions(
            dims=parse_dims(by),
            granularity=granularity,
            since=since,
            until=until,
            tz=found.timezone,
            where=parse_where(where),
            top=top or None,
        )
        check_options(options)
    except OrusageError as exc:  # every check of the options: a bad option value
        raise OptionError(exc.what, exc.fix) from None
    # Gathered on one connection (the page's queries too), then rendered without a query.
    remote = found.spark_remote or None
    if fmt == "html":
        data = gather_page(lake_root(found), options, engine=engine, spark_remote=remote)
    else:
        data = run_report(lake_root(found), options, engine=engine, spark_remote=remote)
    result = data.report if fmt == "html" else data
    if result.empty:
        click.echo(result.empty_message(), err=True)
        if fmt in ("table", "md"):
            return
    render(data, fmt, out)
    if out is not None:
        what = "the page" if fmt == "html" else f"{len(result.rows)} rows"
        click.echo(f"wrote {what} to {out}", err=True)


# --- sql -------------------------------------------------------------------------------------


def parse_param(text: str) -> tuple[str, object]:
    """NAME=VALUE; VALUE is read as JSON when it is JSON (5, 2.5, true, null, ["a", "b"],
    {"model": ["x"]}), else taken as text."""
    name, sep, value = text.partition("=")
    name = name.strip().lstrip("$")
    if not sep or not name.isidentifier():
        raise OptionError(f"-p {text!r} is not NAME=VALUE", "Write e.g. -p since=2026-10-01 or -p 'dims=[\"model\"]'.")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def _query_text(query: str) -> tuple[str, str]:
    """(sql, what) for QUERY: a .sql file path, a file of sql/ by name, or SQL text."""
    from pipeline.schema import sqlfiles

    if query.endswith(".sql") and Path(query).is_file():
        return Path(query).read_text(encoding="utf-8"), query
    stripped = query.strip()
    if stripped and " " not in stripped and "\n" not in stripped and not stripped.endswith(";"):
        if stripped.endswith(".sql") and not Path(stripped).exists():
            raise OrusageError(f"{stripped}: no such file", "Check the path of the .sql file.")
        return sqlfiles.load(stripped), f"sql/{stripped.removesuffix('.sql')}.sql"
    return query, "the query"


def outside_lake(out: Path | None, lake_dir: Path) -> None:
    """--out must not point into the lake: a stray file there would be read as lake data."""
    if out is None:
        return
    lake = Path(lake_dir).resolve()
    target = Path(out).resolve()
    if target == lake or lake in target.parents:
        raise OptionError(f"--out {out} is inside the lake {lake_dir}", "Write the result outside the lake directory.")


@click.command(
    context_settings=CONTEXT,
    epilog=epilog(
        SQL_EXIT_CODES,
        """
        orusage sql "select model, sum(total_cost) from generations group by all order by 2 desc"
        orusage sql "select * from generations where id = \\$id" -p id=gen-1788223496-iKsQeFRG3adbg
        orusage sql report -p 'dims=["model"]' -p granularity=null -p tz=UTC -p since=null \\
            -p until=null -p 'filters={}' -p top=null --format csv --out report.csv
        orusage sql < checks.sql                         # a script: stops at the first failing statement
        orusage sql                                      # interactive shell (make sql); .help lists its commands
        """,
    ),
)
@click.argument("query", required=False)
@lake_option
@config_option
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json", "parquet"]), default="table", show_default=True,
    help="Output of QUERY: a terminal table, or CSV, JSON (an array of row objects) or Parquet (needs --out).",
)  # fmt: skip
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Write the result to FILE (outside the lake): the way to save a result, since the SQL itself writes no files.",
)  # fmt: skip
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="Bind $NAME (repeat). VALUE is JSON or text.")
@engine_options
@click.pass_context
def sql(ctx, query, lake, config, fmt, out, params, engine, spark_remote):
    """Run DuckDB SQL over the lake's views; without QUERY, a shell (or a script from stdin).

    QUERY is SQL text, a path to a .sql file, or the name of a file in sql/ (e.g. `report`,
    `tests/generations_id_unique`). Its $NAME parameters are bound from -p NAME=VALUE, never
    spliced into the text. The views: generations (one row per id, with derived columns),
    provider_attempts (one row per provider attempt), quarantine, runs (docs/report.md).

    The session only reads: statements that write files (COPY, EXPORT, ATTACH) are refused and
    the settings that would let it write are locked, so the lake cannot change under it. Save a
    result with --format and --out.

    Without QUERY, statements are read from stdin, each ending with `;`: an interactive shell on
    a terminal (.help lists its dot-commands), or a script from a pipe, which stops at the first
    failing statement with exit 1 and one `Error:` line naming its line.

    The same views are in <lake>/orusage.duckdb for a stock DuckDB shell: open it from the lake
    directory (`cd lake && duckdb orusage.duckdb`), since the views read relative paths.

    With --engine spark, QUERY (still DuckDB SQL) is translated and run by Apache Spark over the
    same views; a query only (no shell, no other statement).
    """
    from pipeline.cli.sql_shell import refuse_writes, seal, shell, write_relation
    from pipeline.lake import views
    from pipeline.schema import sqlfiles

    if fmt == "parquet" and out is None:
        raise click.UsageError("--format parquet writes a file: pass --out FILE.parquet.")
    if query is None and (params or out is not None or fmt != "table"):
        raise click.UsageError("-p, --format and --out apply to a QUERY; the shell takes none of them.")
    if engine == "spark" and query is None:
        raise click.UsageError("--engine spark runs a QUERY; the shell runs on DuckDB only.")
    bound = dict(parse_param(p) for p in params)
    found = settings(config, lake=lake, spark_remote=spark_remote)
    root = lake_root(found)
    outside_lake(out, root)
    if query is not None:
        text, what = _query_text(query)
        try:
            sqlfiles.check_parameters(text, bound, what)
        except OrusageError as exc:  # a -p missing or one too many: a bad option value
            raise OptionError(f"-p: {exc.what}", exc.fix) from None
    if not root.is_dir():
        raise OrusageError(f"no lake at {root}", "Run `orusage ingest PATH --lake DIR` first, or pass --lake DIR.")
    if engine == "spark":
        _spark_query(root, found.spark_remote or None, text, bound, what, fmt, out)
        return
    con = views.connect(root)
    try:
        seal(con)
        if query is None:
            ctx.exit(shell(con, root))
        refuse_writes(con, text, what)
        relation = _run(con, text, bound, what)
        if relation is None:
            click.echo("done (the statement returns no rows)", err=True)
            return
        write_relation(relation, fmt, out)
    finally:
        con.close()


def _spark_query(root: Path, remote: str | None, text: str, params: dict, what: str, fmt: str, out: Path | None) -> None:
    """QUERY run by Spark; its result written as DuckDB's would be (through an in-memory DuckDB)."""
    import duckdb

    from pipeline.cli.sql_shell import write_relation
    from pipeline.query.spark import SparkLake

    lake = SparkLake.open(root, remote=remote)
    try:
        table = lake.arrow(text, params, what)
    finally:
        lake.close()
    con = duckdb.connect()
    try:
        write_relation(con.from_arrow(table), fmt, out)
    finally:
        con.close()


def _run(con, text: str, params: dict, what: str):
    import duckdb

    from pipeline.schema import sqlfiles

    try:
        return sqlfiles.run(con, text, params, what)
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OrusageError(
            f"{what} failed: {first}",
            "Fix the SQL; the views are generations, provider_attempts, quarantine and runs (docs/report.md).",
        ) from None


# --- views -----------------------------------------------------------------------------------

VIEWS_EXIT_CODES = {
    0: "done",
    1: "the statements could not be built (no lake, sqlglot missing, a view that does not translate)",
    2: "usage error: a bad option or option value",
}


@click.command(
    context_settings=CONTEXT,
    epilog=epilog(
        VIEWS_EXIT_CODES,
        """
        orusage views --dialect spark > views.sql         # then run views.sql in spark-sql or a notebook
        orusage views --dialect spark --lake s3a://bucket/orusage-lake
        orusage views --dialect duckdb                      # the same views for a DuckDB shell
        """,
    ),
)
@click.option(
    "--lake",
    "lake",
    default=None,
    metavar="DIR|URI",
    help="The lake: a directory, or a URI the Spark cluster reads (s3a://, abfss://, gs://). "
    "Default: $ORUSAGE_LAKE, else `lake` of the settings file, else ./lake.",
)
@config_option
@click.option(
    "--dialect",
    type=click.Choice(["spark", "duckdb"]),
    default="spark",
    show_default=True,
    help="spark: CREATE statements for a Spark or Databricks catalog; duckdb: the statements orusage runs itself.",
)
def views(lake, config, dialect):
    """Print the SQL that registers the lake's views in another engine.

    With --dialect spark: an external table over each of the lake's file trees (with the declared
    columns, no schema inference), then `CREATE OR REPLACE VIEW` for generations,
    generation_labels, provider_attempts, quarantine, runs and manifest, translated from sql/views/
    (DuckDB's dialect) by sqlglot. Run them once in `spark-sql`, a `pyspark` shell or a notebook;
    the views then read the lake's current files at every query. Needs sqlglot
    (`pip install 'orusage[spark]'`).
    """
    if lake is not None and "://" in lake:
        uri, local = lake, None
    else:
        root = lake_root(settings(config, lake=Path(lake) if lake is not None else None))
        if not root.is_dir():
            raise OrusageError(f"no lake at {root}", "Run `orusage ingest PATH --lake DIR` first, or pass --lake DIR.")
        uri, local = str(root.resolve()), root
    if dialect == "duckdb":
        from pipeline.lake import views as lake_views
        from pipeline.schema import sqlfiles

        # The statements of <lake>/orusage.duckdb: its views read paths relative to the lake directory.
        files = [file for file, _tree in lake_views.SOURCES.values()]
        if local is not None:  # a lake with merged months, or without the schema file, reads its generations otherwise
            files[0] = lake_views.generations_source_file(local) or files[0]
        statements = [sqlfiles.load(file) for file in files]
        statements += [text for view in lake_views.VIEWS for text in lake_views.view_statements(view)]
    else:
        from pipeline.query.spark import view_statements

        statements = view_statements(uri, temporary=False, local_root=local)
    for statement in statements:
        click.echo(statement.strip().rstrip(";") + ";\n")
