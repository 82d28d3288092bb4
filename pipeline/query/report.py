"""The usage report's query layer: `sql/report.sql`, its percentiles `sql/report_percentiles.sql`
(and, for the page, `sql/html_*.sql`) run over the lake's views with bound parameters, gathered
into data objects on one connection, under the report's DuckDB memory limit (MEMORY_LIMIT).

All aggregation happens in DuckDB; this module checks the options, binds them as parameters,
names the dimension columns and returns a Report (the rows of sql/report.sql) or, for the HTML
page, a PageData. The renderers take those and run no query: pipeline/render/text.py (rich
tables, Markdown, CSV, JSON, Parquet; docs/report.md lists the columns) and
pipeline/render/html.py (the page); pipeline/render/output.py picks the renderer of a format.

The query groups on the dimension labels of `generation_labels` ('(null)', '(empty)', a quoted
'"(null)"' for a value that looks like a label): the terminal, Markdown and HTML show them.
CSV, JSON and Parquet get each dimension back as its value, of its declared type. The
dimensions are listed once, in pipeline/schema/dimensions.py.

    options = ReportOptions(dims=("model",), granularity="month", tz="Europe/Berlin")
    report = run_report(Path("lake"), options)
    report_output.render(report, "csv", out=None)
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb

from pipeline.errors import OrusageError
from pipeline.lake import views
from pipeline.query.spark import SparkLake
from pipeline.schema import dimensions, sqlfiles

DIMENSIONS = dimensions.names()  # the registry: pipeline/schema/dimensions.py
DEFAULT_DIMS = dimensions.default_names()
MAX_DIMS = dimensions.MAX_DIMS  # the slots of sql/report.sql
GRANULARITIES = ("day", "week", "month")
FORMATS = ("table", "csv", "json", "md", "parquet", "html")
ENGINES = ("duckdb", "spark")  # DuckDB in this process (the default), or Apache Spark (pipeline/query/spark.py)
DEFAULT_TOP_ON_SCREEN = 10  # table and md fold beyond 10 groups unless --top says otherwise

# Labels the report gives to values that are not plain text (pipeline/schema/dimensions.py builds the
# SQL that gives them): a value that is itself one of them, or that starts and ends with '"', is
# labelled between double quotes, so every label stands for one value.
NULL_LABEL, EMPTY_LABEL, OTHER_LABEL = dimensions.NULL_LABEL, dimensions.EMPTY_LABEL, dimensions.OTHER_LABEL
QUOTE = dimensions.QUOTE
_LOCAL = "%Y-%m-%d %H:%M:%S"  # a local date-time, as --since and --until take it
_LOCAL_DAY = "%Y-%m-%d"


@dataclass(frozen=True)
class ReportOptions:
    dims: tuple[str, ...] = DEFAULT_DIMS
    granularity: str | None = None
    since: str | None = None  # local date or date-time in `tz`, inclusive
    until: str | None = None  # local date or date-time in `tz`, exclusive
    tz: str = "UTC"
    where: tuple[tuple[str, str], ...] = ()
    top: int | None = None  # None: every group; N >= 1: the N largest by spend, then (other)

    def describe(self) -> str:
        parts = [f"by {', '.join(self.dims)}"]
        if self.granularity:
            parts.append(f"per {self.granularity}")
        if self.since or self.until:
            parts.append(f"from {self.since or 'the start'} (incl.) to {self.until or 'the end'} (excl.)")
        parts.append(f"time zone {self.tz}")
        for name, value in self.where:
            parts.append(f"{name} = {value}")
        if self.top:
            parts.append(f"top {self.top} by spend")
        return "; ".join(parts)


# --- options ---------------------------------------------------------------------------------


def parse_dims(text: str) -> tuple[str, ...]:
    dims = tuple(d.strip() for d in text.split(",") if d.strip())
    if not dims:
        raise OrusageError("--by is empty", f"Give 1 to {MAX_DIMS} of: {dimensions.listing()}.")
    unknown = [d for d in dims if d not in dimensions.names()]
    if unknown:
        raise OrusageError(f"unknown dimension {unknown[0]!r} in --by", f"Use 1 to {MAX_DIMS} of: {dimensions.listing()}.")
    if len(set(dims)) != len(dims):
        raise OrusageError(f"--by {text} names a dimension twice", "Name each dimension once.")
    if len(dims) > MAX_DIMS:
        raise OrusageError(f"--by names {len(dims)} dimensions", f"Give at most {MAX_DIMS}; filter on others with --where.")
    return dims


def parse_where(items: tuple[str, ...] | list[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise OrusageError(f"--where {item!r} is not FIELD=VALUE", "Write e.g. --where model=openai/gpt-4o.")
        if name not in dimensions.names():
            raise OrusageError(f"--where cannot filter on {name!r}", f"Filter on one of: {dimensions.listing()}.")
        out.append((name, value))
    return tuple(out)


def parse_local_time(text: str | None, option: str) -> str | None:
    """A local date or date-time (no offset: the zone is --tz), as 'YYYY-MM-DD HH:MM:SS'."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise OrusageError(
            f"{option} {text!r} is not a date",
            f"Write {option} YYYY-MM-DD or 'YYYY-MM-DD HH:MM' (local time in --tz), or a duration such as 7d or 12w.",
        ) from None
    if value.tzinfo is not None:
        raise OrusageError(f"{option} {text!r} has a UTC offset", "Give a local date-time and the zone with --tz ZONE.")
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


# --- periods: relative (7d, 12w), --month, --as-of ---------------------------------------------

_DURATION = re.compile(r"^\s*(\d+)\s*([dw])\s*$")
_MONTH = re.compile(r"^\s*(\d{4})-(\d{2})\s*$")


def duration_days(text: str | None) -> int | None:
    """`7d` -> 7, `12w` -> 84; None when `text` is not a duration (then it is a date)."""
    match = _DURATION.match(text or "")
    if not match:
        return None
    return int(match.group(1)) * (7 if match.group(2) == "w" else 1)


def local_now(as_of: datetime | None, tz: str) -> datetime:
    """`as_of` (default: now) as a naive local date-time in `tz`."""
    from zoneinfo import ZoneInfo

    return (as_of or datetime.now(UTC)).astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def resolve_period(
    since: str | None, until: str | None, *, month: str | None = None, as_of: datetime | None = None, tz: str = "UTC"
) -> tuple[str | None, str | None]:
    """--since and --until as local date-times: a duration (`7d`, `12w`) counts back from `as_of`
    (default: now) in `tz`, calendar days of the zone (the same wall-clock time, across DST); a
    date stays as given. `month` (`2026-10`) is that calendar month, [first day, first of the next)."""
    if month is not None:
        if since is not None or until is not None:
            raise OrusageError("--month is given with --since or --until", "Give --month YYYY-MM alone, or --since/--until.")
        match = _MONTH.match(month)
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise OrusageError(f"--month {month!r} is not a month", "Write --month YYYY-MM, e.g. --month 2026-10.")
        year, mon = int(match.group(1)), int(match.group(2))
        after_year, after_month = year + mon // 12, mon % 12 + 1
        return f"{year:04d}-{mon:02d}-01 00:00:00", f"{after_year:04d}-{after_month:02d}-01 00:00:00"
    now = local_now(as_of, tz)

    def resolve(text: str | None) -> str | None:
        days = duration_days(text)
        return text if days is None else (now - timedelta(days=days)).strftime(_LOCAL)

    return resolve(since), resolve(until)


def last_days(days: int, as_of: datetime | None, tz: str) -> str:
    """The start of the last `days` local days up to `as_of` (today counts as one), e.g. the
    scheduled page's period: `days` = 90 starts 89 days before as_of's local day."""
    return (local_now(as_of, tz).date() - timedelta(days=days - 1)).strftime(_LOCAL_DAY)


def check_options(options: ReportOptions) -> ReportOptions:
    """The options normalized; OrusageError for any that cannot make a report."""
    dims = parse_dims(",".join(options.dims))
    if options.granularity is not None and options.granularity not in GRANULARITIES:
        raise OrusageError(f"unknown granularity {options.granularity!r}", f"Use one of: {', '.join(GRANULARITIES)}.")
    since = parse_local_time(options.since, "--since")
    until = parse_local_time(options.until, "--until")
    if since and until and since >= until:
        raise OrusageError(
            f"--since {options.since} is not before --until {options.until}",
            "--since is inclusive and --until exclusive: give an earlier --since.",
        )
    if options.top is not None and options.top < 1:
        raise OrusageError(f"--top {options.top} keeps no group", "Give --top 1 or more (or --top 0 to keep every group).")
    parse_where([f"{k}={v}" for k, v in options.where])
    return replace(options, dims=dims, since=since, until=until)


def report_params(options: ReportOptions, from_rollup: bool = False) -> dict[str, Any]:
    """The bound parameters of sql/report.sql."""
    filters: dict[str, list[str]] = {}
    for name, value in options.where:
        filters.setdefault(name, []).append(value)
    return {
        "dims": list(options.dims),
        "granularity": options.granularity,
        "tz": options.tz,
        "since": options.since,
        "until": options.until,
        "filters": {"key": list(filters), "value": list(filters.values())},
        "top": options.top,
        "from_rollup": from_rollup,
    }


ROLLUP_SOURCE, ROWS_SOURCE = "the daily rollup", "the rows"


def rollup_answers(lake_root: Path, options: ReportOptions) -> bool:
    """Whether the daily rollup gives exactly the sums of this report (checked options): the
    lake keeps one, the zone is UTC (its grain is the UTC day), --since and --until are whole
    days, and --by and --where name only its dimensions. Its percentiles would be null."""
    whole_day = all(bound is None or bound.endswith(" 00:00:00.000000") for bound in (options.since, options.until))
    rollup_dims = set(dimensions.rollup_names())
    return (
        options.tz == "UTC"
        and whole_day
        and set(options.dims) <= rollup_dims
        and {name for name, _value in options.where} <= rollup_dims
        and views.has_rollup(lake_root)
    )


def check_time_zone(con, tz: str) -> None:
    if isinstance(con, SparkLake):  # Spark refuses an unknown zone itself; the CLI checks --tz with zoneinfo
        return
    known = sqlfiles.run_file(con, "time_zone_known", {"tz": tz}).fetchall()[0][0]
    if not known:
        raise OrusageError(f"unknown time zone {tz!r}", "Give an IANA zone such as UTC, Europe/Berlin or America/New_York.")


# --- the report ------------------------------------------------------------------------------


def dimension_value(label: str | None, kind: str) -> Any:
    """The value a dimension label of generation_labels stands for, as DuckDB type `kind`
    (VARCHAR, BIGINT or BOOLEAN): None for '(null)', '' for '(empty)', the text inside the
    quotes of a quoted label."""
    if label is None or label == NULL_LABEL:
        return None
    if label == EMPTY_LABEL:
        text = ""
    elif len(label) >= 2 and label.startswith(QUOTE) and label.endswith(QUOTE):
        text = label[1:-1]
    else:
        text = label
    if kind == "BIGINT":
        return int(text)
    if kind == "BOOLEAN":
        return text == "true"
    return text


@dataclass
class Report:
    options: ReportOptions
    lake: Path
    columns: list[str]
    # One dict per row of sql/report.sql; the dimension columns hold labels ('(null)', '(other)').
    rows: list[dict[str, Any]] = field(default_factory=list)
    # DuckDB type of each column of `records` and `arrow`, e.g. 'BIGINT': a dimension's declared type.
    types: list[str] = field(default_factory=list)
    time_zone: str = "UTC"  # the session's zone, in which DuckDB hands out TIMESTAMPTZ values
    lake_version: str | None = None  # the lake's published version; None: it holds no generations yet
    source: str = ROWS_SOURCE  # what answered: the rows, or the daily rollup (sums only)

    @cached_property
    def records(self) -> list[dict[str, Any]]:
        """The rows for machines (CSV, JSON, Parquet): each dimension as its value of its declared
        type, None for a null value and on the (other) row (is_other says which row that is)."""
        kinds = {name: kind for name, kind in zip(self.columns, self.types, strict=True) if name in self.options.dims}
        out = []
        for row in self.rows:
            record = dict(row)
            for name, kind in kinds.items():
                record[name] = None if row["is_other"] else dimension_value(row[name], kind)
            out.append(record)
        return out

    @cached_property
    def arrow(self) -> Any:
        """The records as a pyarrow Table with the query's column types and each dimension's
        declared type (for Parquet), built when first asked for: the other formats do not need it."""
        import pyarrow as pa

        schema = pa.schema(
            [pa.field(name, _arrow_type(kind, self.time_zone)) for name, kind in zip(self.columns, self.types, strict=True)]
        )
        return pa.Table.from_pydict({name: [row[name] for row in self.records] for name in self.columns}, schema=schema)

    @property
    def total(self) -> dict[str, Any] | None:
        for row in self.rows:
            if row["breakdown"] == "total":
                return row
        return None

    @property
    def empty(self) -> bool:
        total = self.total
        return total is None or not total["requests"]

    def rows_of(self, breakdown: str) -> list[dict[str, Any]]:
        """The rows of one breakdown ('total', 'period', 'model', 'model+provider_name', ...)."""
        return [row for row in self.rows if row["breakdown"] == breakdown]

    def breakdowns(self) -> list[tuple[str, list[dict[str, Any]]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for row in self.rows:
            if row["breakdown"] != "total":
                out.setdefault(row["breakdown"], []).append(row)
        return list(out.items())

    def empty_message(self) -> str:
        if self.lake_version is None:
            return f"The lake at {self.lake} holds no generations yet: nothing to report. Add some with `orusage ingest PATH`."
        return (
            f"No generation in {self.lake} matches this report ({self.options.describe()}): nothing to report. "
            "Widen --since/--until or drop a --where filter."
        )


def output_columns(report_columns: list[str], dims: tuple[str, ...]) -> list[str]:
    """The report's column names: dim1..dim4 renamed after the dimensions, unused slots dropped."""
    slots = {f"dim{i + 1}": name for i, name in enumerate(dims)}
    return [slots.get(c, c) for c in report_columns if not (c.startswith("dim") and c[3:].isdigit() and c not in slots)]


def _arrow_type(kind: str, time_zone: str) -> Any:
    """The pyarrow type DuckDB gives a report column of DuckDB type `kind`."""
    import pyarrow as pa

    types = {
        "VARCHAR": pa.string(),
        "BOOLEAN": pa.bool_(),
        "BIGINT": pa.int64(),
        "DOUBLE": pa.float64(),
        "DATE": pa.date32(),
        "TIMESTAMP WITH TIME ZONE": pa.timestamp("us", tz=time_zone),
    }
    if kind not in types:
        raise OrusageError(f"sql/report.sql returns a column of type {kind}", "Give it one of: " + ", ".join(types) + ".")
    return types[kind]


# The memory DuckDB may use for a report (and the page) on one connection: beyond it, its hash
# tables and sorts spill to a temporary directory of their own (removed when the connection
# closes). What cannot spill (the values of one measure of one breakdown that quantile_cont
# holds, sql/report_percentiles.sql: about 8 bytes per row of the period) counts against it, so
# a report that needs more fails with one Error line (docs/report.md, Memory). The variable
# MEMORY_VARIABLE, when set, gives another limit.
MEMORY_LIMIT = "500MB"
MEMORY_VARIABLE = "ORUSAGE_REPORT_MEMORY"


def limit_memory(con, memory_limit: str | None = None) -> None:
    """Give the DuckDB connection `con` the report's memory limit (`memory_limit`, else
    $ORUSAGE_REPORT_MEMORY, else MEMORY_LIMIT) and a temporary directory of its own to spill to."""
    from_variable = memory_limit is None and bool(os.environ.get(MEMORY_VARIABLE, "").strip())
    limit = memory_limit or (os.environ[MEMORY_VARIABLE].strip() if from_variable else MEMORY_LIMIT)
    try:
        con.execute("SET memory_limit = $limit", {"limit": limit})
    except duckdb.Error as exc:
        if not from_variable:
            raise
        raise OrusageError(
            f"{MEMORY_VARIABLE}={limit!r} is not a memory size ({str(exc).splitlines()[0]})",
            f"Give it a size such as 2GB or 800MB, or unset it for the default of {MEMORY_LIMIT}.",
        ) from None
    spill = Path(tempfile.gettempdir()) / f"orusage-report-{os.getpid()}-{id(con)}"
    con.execute("SET temp_directory = $dir", {"dir": str(spill)})


def open_lake(lake_root: Path, engine: str = "duckdb", spark_remote: str | None = None):
    """A connection with the views of the lake at `lake_root`: DuckDB's (with the report's memory
    limit, limit_memory), or with engine="spark" a SparkLake (in-process, or the Spark Connect
    server `spark_remote`); OrusageError when there is no lake."""
    lake_root = Path(lake_root)
    if not lake_root.is_dir():
        raise OrusageError(f"no lake at {lake_root}", "Run `orusage ingest PATH --lake DIR` first, or pass --lake DIR.")
    if engine == "spark":
        return SparkLake.open(lake_root, remote=spark_remote or None)
    con = views.connect(lake_root)
    limit_memory(con)
    return con


def _out_of_memory(con, exc: Exception) -> OrusageError:
    limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    return OrusageError(
        f"the report needs more memory than DuckDB's limit of {limit} ({str(exc).splitlines()[0]})",
        "Report a shorter period with --since (a percentile holds about 8 bytes per generation of the period), "
        f"or raise the limit, e.g. {MEMORY_VARIABLE}=2GB.",
    )


def _report_rows(con, sql: str, params: dict[str, Any], dims: tuple[str, ...]):
    """(columns with their type names, rows as tuples, the zone of its timestamps, the declared
    type of each dimension) of sql/report.sql on `con`."""
    if isinstance(con, SparkLake):
        described, tuples = con.rows(sql, params, "sql/report.sql")
        declared = con.column_types("generations")
        return described, tuples, "UTC", {name: declared[name] for name in dims}
    # Executed once, rows fetched as tuples: a relation (con.sql) would bind the query a second
    # time, and an Arrow table converted to rows costs more than the tuples.
    result = con.execute(sql, params)
    described = [(column[0], str(column[1])) for column in result.description]
    tuples = result.fetchall()
    context = sqlfiles.run_file(con, "report_context", {"dims": list(dims)}).fetchall()
    time_zone = context[0][0]  # at least one dimension is always asked for
    declared = {name: kind for _zone, name, kind in context}
    return described, tuples, time_zone, declared


# The measures of sql/report_percentiles.sql and the report columns their p50, p90, p99 fill.
PERCENTILE_COLUMNS = {
    "latency": ("latency_p50_ms", "latency_p90_ms", "latency_p99_ms"),
    "generation_time": ("generation_time_p50_ms", "generation_time_p90_ms", "generation_time_p99_ms"),
    "throughput": ("throughput_p50_tps", "throughput_p90_tps", "throughput_p99_tps"),
}
_KEY_COLUMNS = ("breakdown", "period", "dim1", "dim2", "dim3", "dim4", "is_other")


def breakdown_orders(options: ReportOptions) -> dict[str, int]:
    """The breakdowns of the report (checked options) by name, with their order in sql/report.sql:
    0 'total', 1 'period' (with --granularity), 2 the dimensions together (2 or more), 3.. each alone."""
    orders = {"total": 0}
    if options.granularity is not None:
        orders["period"] = 1
    if len(options.dims) >= 2:
        orders["+".join(options.dims)] = 2
    for i, dim in enumerate(options.dims):
        orders[dim] = 3 + i
    return orders


def kept_groups(options: ReportOptions, columns: list[str], tuples: list[tuple]) -> dict[str, list[str] | None]:
    """The $kept, $kept1..$kept4 of sql/report_percentiles.sql: with --top, the groups that the
    rows of sql/report.sql keep in each breakdown (the others fold into '(other)'); None without."""
    kept: dict[str, list[str] | None] = dict.fromkeys(("kept", "kept1", "kept2", "kept3", "kept4"))
    if options.top is None:
        return kept
    at = {name: columns.index(name) for name in _KEY_COLUMNS}
    dims = options.dims
    together: set[str] = set()
    alone: list[set[str]] = [set() for _ in dims]
    for row in tuples:
        if row[at["is_other"]]:
            continue
        breakdown = row[at["breakdown"]]
        if len(dims) >= 2 and breakdown == "+".join(dims):
            together.add(chr(31).join(row[at[f"dim{i + 1}"]] for i in range(len(dims))))
        elif breakdown in dims:
            i = dims.index(breakdown)
            alone[i].add(row[at[f"dim{i + 1}"]])
    if len(dims) >= 2:
        kept["kept"] = sorted(together)
    for i, labels in enumerate(alone):
        kept[f"kept{i + 1}"] = sorted(labels)
    return kept


# Up to this many generations in the report's selection, one statement per breakdown takes the
# percentiles of all three measures (24 bytes a generation, 96 MB at most); beyond it, one
# measure per statement (8 bytes a generation): fewer passes over a short period, a bounded
# memory over a long one.
PERCENTILE_BATCH_ROWS = 4_000_000


def measure_batches(requests: int) -> list[tuple[str, ...]]:
    """The measures of each statement of sql/report_percentiles.sql, for a selection of `requests`."""
    if requests <= PERCENTILE_BATCH_ROWS:
        return [tuple(PERCENTILE_COLUMNS)]
    return [(measure,) for measure in PERCENTILE_COLUMNS]


def _with_percentiles(
    con, options: ReportOptions, columns: list[str], tuples: list[tuple], breakdowns: tuple[str, ...] | None = None
) -> list[tuple]:
    """The rows of sql/report.sql with the percentile columns of `breakdowns` (default: every
    breakdown) filled by sql/report_percentiles.sql: one statement per breakdown (and per measure
    beyond PERCENTILE_BATCH_ROWS), so that DuckDB holds the values of one breakdown at a time
    (docs/report.md, Memory)."""
    orders = [order for name, order in breakdown_orders(options).items() if breakdowns is None or name in breakdowns]
    if not tuples or not orders:
        return tuples
    sql = sqlfiles.load("report_percentiles")
    base = report_params(options)
    del base["top"], base["from_rollup"]
    base.update(kept_groups(options, columns, tuples))
    key_at = [columns.index(name) for name in _KEY_COLUMNS]
    total = next(row for row in tuples if row[key_at[0]] == "total")
    values: dict[tuple, dict[str, Any]] = {}
    for order in orders:
        for measures in measure_batches(total[columns.index("requests")] or 0):
            params = {**base, "breakdown": order, "measures": list(measures)}
            params = sqlfiles.check_parameters(sql, params, "sql/report_percentiles.sql")
            if isinstance(con, SparkLake):
                described, rows = con.rows(sql, params, "sql/report_percentiles.sql")
                names = [name for name, _kind in described]
            else:
                result = con.execute(sql, params)
                names = [column[0] for column in result.description]
                rows = result.fetchall()
            wanted = [(names.index(name), name) for measure in measures for name in PERCENTILE_COLUMNS[measure]]
            for row in rows:
                found = values.setdefault(tuple(row[:7]), {})
                for i, name in wanted:
                    found[name] = row[i]
    fill = [(columns.index(name), name) for targets in PERCENTILE_COLUMNS.values() for name in targets]
    out = []
    for row in tuples:
        found = values.get(tuple(row[i] for i in key_at), {})
        row = list(row)
        for i, name in fill:
            row[i] = found.get(name)
        out.append(tuple(row))
    return out


def query_report(
    con, lake_root: Path, options: ReportOptions, *, sums_only: bool = False, percentiles: tuple[str, ...] | None = None
) -> Report:
    """Run sql/report.sql on `con` (the views of the lake at `lake_root`); an empty selection gives
    an empty Report. `sums_only`: the caller needs no percentile, so the daily rollup answers
    when it can (rollup_answers; Report.source says which did). `percentiles`: the breakdowns
    whose percentile columns the caller needs (by name, e.g. ("model+provider_name",); the
    others stay null); None: every breakdown's."""
    options = check_options(options)
    from_rollup = sums_only and not isinstance(con, SparkLake) and rollup_answers(lake_root, options)
    sql = sqlfiles.load("report")
    params = sqlfiles.check_parameters(sql, report_params(options, from_rollup), what="sql/report.sql")
    check_time_zone(con, options.tz)
    try:
        described, tuples, time_zone, declared = _report_rows(con, sql, params, options.dims)
        if not from_rollup:
            tuples = _with_percentiles(con, options, [name for name, _kind in described], tuples, percentiles)
    except duckdb.OutOfMemoryException as exc:
        raise _out_of_memory(con, exc) from None
    keep = [
        i
        for i, (name, _kind) in enumerate(described)
        if not (name.startswith("dim") and name[3:].isdigit() and int(name[3:]) > len(options.dims))
    ]
    columns = output_columns([described[i][0] for i in keep], options.dims)
    rows = [dict(zip(columns, (values[i] for i in keep), strict=True)) for values in tuples]
    types = [
        declared.get(name, described[i][1]) if name in options.dims else described[i][1]
        for name, i in zip(columns, keep, strict=True)
    ]
    source = ROLLUP_SOURCE if from_rollup else ROWS_SOURCE
    return Report(options, Path(lake_root), columns, rows, types, time_zone, views.current_version(lake_root), source)


def run_report(lake_root: Path, options: ReportOptions, engine: str = "duckdb", spark_remote: str | None = None) -> Report:
    """Run sql/report.sql over the lake at `lake_root`, on one connection (of `engine`); an empty
    selection gives an empty Report."""
    con = open_lake(lake_root, engine, spark_remote)
    try:
        return query_report(con, lake_root, options)
    finally:
        con.close()


# --- the page's data -------------------------------------------------------------------------

# Without --since, the headline numbers of the page are those of the last HEADLINE_DAYS days of
# data, compared with the HEADLINE_DAYS days before (sql/html_window.sql).
HEADLINE_DAYS = 30

# The time axis of the page's spend and cache charts when --granularity is not given: days for a
# window of up to 62 days, ISO weeks up to a year, months beyond.
AUTO_GRANULARITY = ((62, "day"), (366, "week"))

# The dimensions the page charts alone (each a chart of its own), besides the user's --by.
PAGE_DIMENSIONS = ("model", "provider_name", "data_region", "app_id")


def auto_granularity(options: ReportOptions, days: float) -> str:
    if options.granularity:
        return options.granularity
    for limit, name in AUTO_GRANULARITY:
        if days <= limit:
            return name
    return "month"


@dataclass
class PageData:
    """Everything the HTML page shows, gathered on one connection (pipeline/render/html.py renders it).
    Without a generation selected only `report` and `last_run` are gathered."""

    report: Report  # the user's report: the overview and the tables
    last_run: dict[str, Any] | None  # the ingest run that last fed the lake (sql/html_last_run.sql)
    window: dict[str, Any] | None = None  # the window, headline and previous periods (sql/html_window.sql)
    current: Report | None = None  # the headline period: the window, or its last HEADLINE_DAYS days without --since
    previous: Report | None = None  # the period before the headline period, of the same length (sums: no percentiles)
    granularity: str = "day"  # of the time axes
    timeline: Report | None = None  # by model, per period
    model_provider: Report | None = None  # by model and provider_name, over the whole window (percentiles: the pairs only)
    by_dim: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # each of PAGE_DIMENSIONS alone
    provider_errors: list[dict[str, Any]] = field(default_factory=list)  # sql/html_provider_errors.sql


def _query_rows(con, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    if isinstance(con, SparkLake):
        described, tuples = con.rows(sqlfiles.load(name), params, f"sql/{name}.sql")
        columns = [c for c, _kind in described]
        return [dict(zip(columns, row, strict=True)) for row in tuples]
    relation = sqlfiles.run_file(con, name, params)
    columns = relation.columns
    return [dict(zip(columns, row, strict=True)) for row in relation.fetchall()]


def _single(report: Report, dim: str) -> list[dict[str, Any]] | None:
    """The rows of `dim` alone in `report`, when it has that breakdown over the whole window."""
    if report.options.granularity is None and dim in report.options.dims:
        return report.rows_of(dim)
    return None


def gather_page(
    lake_root: Path,
    options: ReportOptions,
    report: Report | None = None,
    *,
    headline_in_window: bool = False,
    engine: str = "duckdb",
    spark_remote: str | None = None,
) -> PageData:
    """Run every query the page needs on one connection (of `engine`), each with the report's
    window, zone, filters and --top; `report`, when given, is the user's report already gathered.
    `headline_in_window`: the cards compare the last HEADLINE_DAYS days of the window with the
    HEADLINE_DAYS before also when --since is given (the scheduled run's bounded page)."""
    con = open_lake(lake_root, engine, spark_remote)
    try:
        report = report or query_report(con, lake_root, options)
        rows = _query_rows(con, "html_last_run", {})
        page = PageData(report, rows[0] if rows else None)
        if report.empty:
            return page
        o, total = report.options, report.total or {}
        win = _query_rows(
            con,
            "html_window",
            {
                "tz": o.tz,
                "since": o.since,
                "until": o.until,
                "first_created_at": total.get("first_created_at"),
                "last_created_at": total.get("last_created_at"),
                "headline_days": HEADLINE_DAYS,
                "headline_in_window": headline_in_window,
            },
        )[0]
        base = ReportOptions(dims=("model",), since=o.since, until=o.until, tz=o.tz, where=o.where, top=o.top)
        if (win["headline_since"], win["headline_until"]) == (win["since"], win["until"]):
            current = report
        else:
            headline = replace(base, since=win["headline_since"], until=win["headline_until"], top=None)
            current = query_report(con, lake_root, headline, percentiles=())
        before = replace(base, since=win["previous_since"], until=win["previous_until"], top=None)
        previous = query_report(con, lake_root, before, percentiles=())
        granularity = auto_granularity(o, win["days"])
        # The trend needs sums only: the daily rollup answers it when it can (UTC periods).
        timeline = query_report(con, lake_root, replace(base, granularity=granularity), sums_only=True)
        # The page shows percentiles of the user's report and of model x provider only.
        model_provider = query_report(
            con, lake_root, replace(base, dims=("model", "provider_name")), percentiles=("model+provider_name",)
        )
        by_dim: dict[str, list[dict[str, Any]]] = {}
        for dim in ("model", "provider_name"):
            by_dim[dim] = _single(report, dim) or model_provider.rows_of(dim)
        missing = tuple(d for d in PAGE_DIMENSIONS if d not in by_dim and _single(report, d) is None)
        extra = query_report(con, lake_root, replace(base, dims=missing), percentiles=()) if missing else None
        for dim in PAGE_DIMENSIONS:
            if dim not in by_dim:
                by_dim[dim] = _single(report, dim) or extra.rows_of(dim)
        errors = _query_rows(
            con,
            "html_provider_errors",
            {"tz": o.tz, "since": o.since, "until": o.until, "filters": report_params(o)["filters"], "top": o.top},
        )
    finally:
        con.close()
    return replace(
        page,
        window=win,
        current=current,
        previous=previous,
        granularity=granularity,
        timeline=timeline,
        model_provider=model_provider,
        by_dim=by_dim,
        provider_errors=errors,
    )
