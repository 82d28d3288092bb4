"""The text renderers of the report: terminal tables (rich), Markdown, CSV, JSON and Parquet.

Each takes a gathered Report (pipeline/query/report.py runs the query) and runs none itself; the page
is rendered by pipeline/render/html.py. Formatting is stable, so that a cron job's output diffs
cleanly.
"""

from __future__ import annotations

import io
import json
import math
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import OrusageError
from pipeline.schema.dimensions import QUOTE

if TYPE_CHECKING:
    from pipeline.query.report import Report

TEXT_FORMATS = ("table", "csv", "json", "md", "parquet")


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


def write(report: Report, fmt: str, out: Path | None = None, console=None) -> None:
    """Write the report in `fmt` (one of TEXT_FORMATS) to `out` (a file) or to the console / stdout."""
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
    else:
        raise OrusageError(f"unknown format {fmt!r}", f"Use one of: {', '.join(TEXT_FORMATS)}.")
    write_text(text, out)


def write_text(text: str, out: Path | None) -> None:
    """`text` to the file `out`, or to stdout."""
    if out is None:
        import sys

        sys.stdout.write(text)
    else:
        Path(out).write_text(text, encoding="utf-8")
