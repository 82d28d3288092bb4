"""The usage report: `sql/report.sql` run over the lake's views with bound parameters, rendered.

All aggregation happens in DuckDB (one query, `sql/report.sql`); this module checks the options,
binds them as parameters, names the dimension columns and renders the rows: rich tables for a
terminal, Markdown, CSV, JSON or Parquet with stable column names (docs/report.md lists them).

The query groups on the dimension labels of `generation_labels` ('(null)', '(empty)', a quoted
'"(null)"' for a value that looks like a label): the terminal, Markdown and HTML show them.
CSV, JSON and Parquet get each dimension back as its value, of its declared type.

    options = ReportOptions(dims=("model",), granularity="month", tz="Europe/Berlin")
    report = run_report(Path("lake"), options)
    render(report, "csv", out=None)
"""

from __future__ import annotations

import io
import json
import math
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from pipeline import dimensions, sqlfiles, views
from pipeline.errors import OrusageError

DIMENSIONS = dimensions.names()  # the registry: pipeline/dimensions.py
DEFAULT_DIMS = dimensions.default_names()
MAX_DIMS = dimensions.MAX_DIMS  # the slots of sql/report.sql
GRANULARITIES = ("day", "week", "month")
FORMATS = ("table", "csv", "json", "md", "parquet", "html")
DEFAULT_TOP_ON_SCREEN = 10  # table and md fold beyond 10 groups unless --top says otherwise

# Labels the report gives to values that are not plain text (pipeline/dimensions.py builds the
# SQL that gives them): a value that is itself one of them, or that starts and ends with '"', is
# labelled between double quotes, so every label stands for one value.
NULL_LABEL, EMPTY_LABEL, OTHER_LABEL = dimensions.NULL_LABEL, dimensions.EMPTY_LABEL, dimensions.OTHER_LABEL
QUOTE = dimensions.QUOTE


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
            f"{option} {text!r} is not a date", f"Write {option} YYYY-MM-DD or 'YYYY-MM-DD HH:MM' (local time in --tz)."
        ) from None
    if value.tzinfo is not None:
        raise OrusageError(f"{option} {text!r} has a UTC offset", "Give a local date-time and the zone with --tz ZONE.")
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


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


def report_params(options: ReportOptions) -> dict[str, Any]:
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
    }


def check_time_zone(con, tz: str) -> None:
    known = con.sql("SELECT count(*) FROM pg_timezone_names() WHERE name = $tz", params={"tz": tz}).fetchall()[0][0]
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

    def breakdowns(self) -> list[tuple[str, list[dict[str, Any]]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for row in self.rows:
            if row["breakdown"] != "total":
                out.setdefault(row["breakdown"], []).append(row)
        return list(out.items())

    def empty_message(self) -> str:
        if views.current_version(self.lake) is None:
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


def run_report(lake_root: Path, options: ReportOptions) -> Report:
    """Run sql/report.sql over the lake at `lake_root`; an empty selection gives an empty Report."""
    lake_root = Path(lake_root)
    if not lake_root.is_dir():
        raise OrusageError(f"no lake at {lake_root}", "Run `orusage ingest PATH --lake DIR` first, or pass --lake DIR.")
    options = check_options(options)
    sql = sqlfiles.load("report")
    params = sqlfiles.check_parameters(sql, report_params(options), what="sql/report.sql")
    con = views.connect(lake_root)
    try:
        check_time_zone(con, options.tz)
        # Executed once, rows fetched as tuples: a relation (con.sql) would bind the query a
        # second time, and an Arrow table converted to rows costs more than the tuples.
        result = con.execute(sql, params)
        described = [(column[0], str(column[1])) for column in result.description]
        tuples = result.fetchall()
        time_zone = con.execute("SELECT current_setting('TimeZone')").fetchall()[0][0]
        declared = dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'generations' AND list_contains($dims, column_name)",
                {"dims": list(options.dims)},
            ).fetchall()
        )
    finally:
        con.close()
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
    return Report(options, lake_root, columns, rows, types, time_zone)


# --- rendering -------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """A value as text for CSV and Markdown: stable, so that a cron job's output diffs cleanly."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return format(value, ".12g")  # 12 significant digits: float sums vary in the last bits
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def json_value(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else float(format(value, ".12g"))
    if isinstance(value, (datetime, date)):
        return cell_text(value)
    return value


def _csv_field(value: Any) -> str:
    """One CSV field, quoted as the csv module quotes (a field holding a comma, a quote or a line
    break), and also when it is an empty string: "" is an empty string, an empty field a null,
    as DuckDB and polars write and read them."""
    if value is None:
        return ""
    text = cell_text(value)
    if text == "" or any(c in text for c in ',"\r\n'):
        return QUOTE + text.replace(QUOTE, QUOTE * 2) + QUOTE
    return text


def to_csv(report: Report) -> str:
    lines = [",".join(_csv_field(c) for c in report.columns)]
    lines += [",".join(_csv_field(row[c]) for c in report.columns) for row in report.records]
    return "\n".join(lines) + "\n"


def to_json(report: Report) -> str:
    lines = [json.dumps({c: json_value(row[c]) for c in report.columns}) for row in report.records]
    return "[\n" + ",\n".join(lines) + ("\n" if lines else "") + "]\n"


# The columns the terminal and Markdown show of each breakdown (csv/json/parquet have all).
SCREEN_METRICS = (
    ("requests", "requests", "count"),
    ("total_cost", "spend $", "money"),
    ("spend_share", "share", "pct"),
    ("cost_per_request", "$/req", "money"),
    ("cost_per_million_billed_tokens", "$/Mtok", "money"),
    ("cache_hit_rate", "cache hit", "pct"),
    ("latency_p50_ms", "latency* p50", "ms"),
    ("latency_p90_ms", "p90", "ms"),
    ("throughput_p50_tps", "tok/s p50", "num"),
    ("error_rate", "errors", "pct"),
    ("fallback_rate", "fallback", "pct"),
)

LATENCY_NOTE = (
    "* latency is the `latency` field as OpenRouter records it: in real data it equals the last "
    "provider attempt's latency and behaves like time to first token, not total time."
)


def format_metric(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "count":
        return f"{value:,}"
    if kind == "money":
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:,.2f}"
        return f"{value:.3g}"
    if kind == "pct":
        return f"{value * 100:.1f}%"
    if kind == "ms":
        return f"{value:,.0f}"
    if kind == "tokens":
        for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
            if abs(value) >= size:
                return f"{value / size:.1f}{unit}"
        return str(value)
    return f"{value:,.1f}"


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def overview_items(report: Report) -> list[tuple[str, str]]:
    """(label, value) pairs of the overview, from the 'total' row."""
    t = report.total or {}

    def pct(key: str) -> str:
        return format_metric(t.get(key), "pct")

    def fmt(key: str, kind: str) -> str:
        return format_metric(t.get(key), kind)

    def quantiles(metric: str, kind: str, unit: str) -> str:
        return " / ".join(fmt(f"{metric}_p{q}_{unit}", kind) for q in (50, 90, 99))

    finish = ("stop", "length", "tool_calls", "content_filter", "error", "other", "null")
    return [
        ("period", f"{_when(t.get('first_created_at'))} .. {_when(t.get('last_created_at'))}"),
        ("selection", report.options.describe()),
        (
            "requests",
            (
                f"{fmt('requests', 'count')} (cancelled {pct('cancelled_share')}, streamed {pct('streamed_share')}, "
                f"BYOK {pct('byok_share')}, response-cache hits {fmt('response_cache_hits', 'count')})"
            ),
        ),
        (
            "spend (total_cost)",
            (
                f"${fmt('total_cost', 'money')}  (usage ${fmt('usage', 'money')}; "
                f"BYOK upstream_inference_cost ${fmt('upstream_inference_cost', 'money')})"
            ),
        ),
        ("savings (cache_discount)", f"${fmt('cache_discount', 'money')}"),
        (
            "billed tokens (native)",
            (
                f"{fmt('native_tokens_prompt', 'tokens')} prompt (cached {fmt('native_tokens_cached', 'tokens')}, "
                f"cache hit rate {pct('cache_hit_rate')}), {fmt('native_tokens_completion', 'tokens')} completion "
                f"(reasoning {fmt('native_tokens_reasoning', 'tokens')})"
            ),
        ),
        (
            "cost per request / per M billed tokens",
            f"${fmt('cost_per_request', 'money')} / ${fmt('cost_per_million_billed_tokens', 'money')}",
        ),
        ("latency* p50 / p90 / p99", quantiles("latency", "ms", "ms") + " ms"),
        ("generation time p50 / p90 / p99", quantiles("generation_time", "ms", "ms") + " ms"),
        ("throughput p50 / p90 / p99", quantiles("throughput", "num", "tps") + " tokens/s"),
        ("errors (finish_reason = error)", pct("error_rate")),
        ("fallback rate", f"{pct('fallback_rate')} of requests with provider attempts"),
        (
            "failed attempts",
            (
                f"429 {pct('attempt_429_share')}, 5xx {pct('attempt_5xx_share')}, "
                f"other {pct('attempt_other_failed_share')} of {fmt('attempts', 'count')} attempts"
            ),
        ),
        ("finish reasons", ", ".join(f"{name} {pct(f'finish_reason_{name}_share')}" for name in finish)),
    ]


def _group_columns(report: Report) -> list[str]:
    cols = ["period"] if report.options.granularity else []
    return cols + list(report.options.dims)


def _breakdown_dims(report: Report, rows: list[dict[str, Any]]) -> list[str]:
    """The group columns that carry values in this breakdown."""
    return [c for c in _group_columns(report) if any(r[c] is not None for r in rows)]


def _md(text: str) -> str:
    """Text for a Markdown table cell, shown as it is: \\ | * ` < escaped with a backslash."""
    return re.sub(r"([\\|*`<])", r"\\\1", text)


def to_markdown(report: Report) -> str:
    """The terminal report as Markdown: the overview, then each breakdown with the table's
    columns and the same formatted numbers."""
    lines = [f"# orusage report: {_md(str(report.lake))}", "", "## Overview", "", "| metric | value |", "|---|---|"]
    for label, value in overview_items(report):
        lines.append(f"| {_md(label)} | {_md(value)} |")
    for name, rows in report.breakdowns():
        group = _breakdown_dims(report, rows)
        header = [_md(c) for c in group] + [_md(label) for _metric, label, _kind in SCREEN_METRICS]
        lines += [
            "",
            f"## By {name}",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(group) + "---:|" * len(SCREEN_METRICS),
        ]
        for row in rows:
            cells = [_md(cell_text(row[c])) for c in group] + [format_metric(row[m], kind) for m, _label, kind in SCREEN_METRICS]
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "\\" + LATENCY_NOTE, ""]
    return "\n".join(lines)


# A breakdown table that does not fit the terminal shows fewer metric columns, never fewer
# labels: first with every label on one line, if that leaves room for this many metric columns;
# else with labels wrapped onto a second line (or more, in a very narrow terminal).
MIN_METRICS_BESIDE_WHOLE_LABELS = 2  # requests and spend
MAX_LABEL_LINES = 4


def _new_breakdown_table(name: str):
    from rich.table import Table

    return Table(title=f"by {name}", title_justify="left", header_style="bold")


def _breakdown_table(name: str, columns: list[tuple[str, list[str], int | None]], metrics, rows: list[dict[str, Any]]):
    """The rich table of one breakdown: the label columns (header, cells, fixed width or None),
    then the metric columns `metrics` (of SCREEN_METRICS)."""
    from rich.text import Text

    table = _new_breakdown_table(name)
    for header, _cells, width in columns:
        table.add_column(header, overflow="fold", width=width)
    for _metric, label, _kind in metrics:
        table.add_column(label, justify="right", no_wrap=True)
    for i, row in enumerate(rows):
        table.add_row(
            *(Text(cells[i]) for _header, cells, _width in columns),  # Text: a label is never read as markup
            *(format_metric(row[m], kind) for m, _label, kind in metrics),
            style="italic" if row["is_other"] else None,
        )
    return table


def _table_width(console, widths: list[int]) -> int:
    """The width rich gives a breakdown table whose columns hold `widths` cells (borders and padding added)."""
    from rich.measure import Measurement

    probe = _new_breakdown_table("")
    for width in widths:
        probe.add_column(width=width)
    return Measurement.get(console, console.options.update_width(sum(widths) * 4 + 100), probe).maximum


def _label_width(console, header: str, cells: list[str], lines: int) -> int:
    """The narrowest width that keeps `header` on one line and every cell within `lines` lines."""
    from rich.cells import cell_len
    from rich.text import Text

    widest = max([cell_len(header), *(cell_len(c) for c in cells)])
    width = max(cell_len(header), -(-widest // lines))
    while width < widest and any(len(Text(c).wrap(console, width, overflow="fold")) > lines for c in cells):
        width += 1
    return width


def _share_out(whole: list[int], floors: list[int], budget: int) -> list[int] | None:
    """Widths of the label columns within `budget` cells in all: whole where they fit, else the
    widest narrowed first, none below its floor; None when even the floors do not fit."""
    if sum(floors) > budget:
        return None
    level = max(whole, default=0)
    while level > 0 and sum(max(f, min(w, level)) for w, f in zip(whole, floors, strict=True)) > budget:
        level -= 1
    return [max(f, min(w, level)) for w, f in zip(whole, floors, strict=True)]


def fit_breakdown(report: Report, name: str, rows: list[dict[str, Any]], console) -> tuple[Any, list[str]]:
    """The table of one breakdown for the console's width, and the headers of the metric columns
    left out (from the right of SCREEN_METRICS).

    Every label column stays, and every label whole: on one line if that leaves room for
    MIN_METRICS_BESIDE_WHOLE_LABELS metric columns, else wrapped (the widest columns first) onto
    as few lines as let more metric columns fit."""
    from rich.cells import cell_len

    group = _breakdown_dims(report, rows)
    cells = {c: [cell_text(row[c]) for row in rows] for c in group}
    metric_widths = [
        max([cell_len(label), *(cell_len(format_metric(row[m], kind)) for row in rows)]) for m, label, kind in SCREEN_METRICS
    ]
    whole = [_label_width(console, c, cells[c], 1) for c in group]

    def most_metrics(floors: list[int]) -> tuple[int, list[int]] | None:
        """The most metric columns that fit beside labels no narrower than `floors`, and the label widths."""
        for count in range(len(SCREEN_METRICS), 0, -1):
            borders = _table_width(console, [0] * (len(group) + count))
            widths = _share_out(whole, floors, console.width - borders - sum(metric_widths[:count]))
            if widths is not None:
                return count, widths
        return None

    best = most_metrics(whole)
    lines = 2
    while (best is None or best[0] < MIN_METRICS_BESIDE_WHOLE_LABELS) and lines <= MAX_LABEL_LINES:
        # a period (a date) stays on one line
        floors = [w if c == "period" else _label_width(console, c, cells[c], lines) for c, w in zip(group, whole, strict=True)]
        wrapped = most_metrics(floors)
        if wrapped is not None and (best is None or wrapped[0] > best[0]):
            best = wrapped
        if best is not None:
            break
        lines += 1
    count, widths = best if best is not None else (1, [None] * len(group))
    table = _breakdown_table(name, [(c, cells[c], w) for c, w in zip(group, widths, strict=True)], SCREEN_METRICS[:count], rows)
    return table, [label for _m, label, _kind in SCREEN_METRICS[count:]]


def left_out_note(left_out: list[str]) -> str:
    """The line under a table that had to leave metric columns out."""
    return (
        f"left out for width: {', '.join(left_out)}; see them in a wider terminal "
        "(COLUMNS=200 orusage report ... | less -S) or with --format md, csv or json"
    )


def render_table(report: Report, console) -> None:
    from rich.table import Table
    from rich.text import Text

    console.print(Text.assemble(("orusage report", "bold"), f"  lake {report.lake}"))
    overview = Table(show_header=False, box=None, pad_edge=False)
    overview.add_column(style="bold", overflow="fold")
    overview.add_column(overflow="fold")
    for label, value in overview_items(report):
        overview.add_row(Text(label), Text(value))
    console.print(overview)
    for name, rows in report.breakdowns():
        table, left_out = fit_breakdown(report, name, rows, console)
        console.print(table)
        if left_out:
            console.print(Text(left_out_note(left_out), style="dim"))
    console.print(LATENCY_NOTE, style="dim")


def render(report: Report, fmt: str, out: Path | None = None, console=None) -> None:
    """Write the report in `fmt` to `out` (a file) or to the console / stdout."""
    if fmt == "parquet":
        if out is None:
            raise OrusageError("--format parquet writes a file", "Pass --out FILE.parquet.")
        import pyarrow.parquet as pq

        pq.write_table(report.arrow, out)
        return
    if fmt == "table" and out is None:
        if console is None:
            import os
            import sys

            from rich.console import Console

            # A terminal gets its own width; a pipe or a file gets COLUMNS if it is set, else
            # room for every column.
            sized = sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit()
            console = Console() if sized else Console(width=200)
        render_table(report, console)
        return
    if fmt == "table":
        from rich.console import Console

        buffer = io.StringIO()
        render_table(report, Console(file=buffer, width=200, color_system=None))
        text = buffer.getvalue()
    elif fmt == "csv":
        text = to_csv(report)
    elif fmt == "json":
        text = to_json(report)
    elif fmt == "md":
        text = to_markdown(report)
    elif fmt == "html":
        from pipeline.html_report import to_html  # the page with charts (docs/html-report.md)

        text = to_html(report)
    else:
        raise OrusageError(f"unknown format {fmt!r}", f"Use one of: {', '.join(FORMATS)}.")
    if out is None:
        import sys

        sys.stdout.write(text)
    else:
        Path(out).write_text(text, encoding="utf-8")
