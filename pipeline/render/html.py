"""The HTML report: one self-contained page with charts, for `orusage report --format html`.

Every number on the page is computed by DuckDB from the lake and gathered beforehand, on one
connection, into a PageData (pipeline/query/report.py: `sql/report.sql` with the report's own options
and with a few fixed dimension sets, and `sql/html_*.sql`, each file's header says what it
computes). This module runs no query: it picks rows, turns them into Vega-Lite specifications
(altair) and renders those to static SVG with vl-convert, which runs in-process and offline: the
page holds no script for the charts and asks no host for anything when it is opened. A small
hand-written script makes the tables sortable (docs/html-report.md says why).

    page = gather_page(Path("lake"), ReportOptions(top=10))
    Path("report.html").write_text(to_html(page))
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.query.report import HEADLINE_DAYS, PageData, Report, auto_granularity  # noqa: F401 (auto_granularity: importable from here
from pipeline.render.text import LATENCY_NOTE, SCREEN_METRICS, format_metric, overview_items
from pipeline.schema.dimensions import OTHER_LABEL

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE = "report.html.j2"

# Chart sizes (px of the plot area): the page is 1,140 px wide at most and scales the SVGs down
# to the window (or the printed page) below that.
WIDE = 820
HALF = 330
BAR_STEP = 22  # px per bar of a horizontal bar chart

PALETTE = (
    "#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d",
    "#ff9da6", "#79706e", "#439894", "#d6a5c9", "#86bcb6", "#f2cf5b", "#88d27a", "#bab0ac",
)  # fmt: skip
OTHER_COLOR = "#c7c7c7"
FINISH_REASONS = (  # (column suffix, label, colour): the mix per model
    ("stop", "stop", "#54a24b"),
    ("tool_calls", "tool_calls", "#4c78a8"),
    ("length", "length", "#f58518"),
    ("content_filter", "content_filter", "#b279a2"),
    ("error", "error", "#e45756"),
    ("other", "other", "#9d755d"),
    ("null", "null (e.g. cancelled)", "#c7c7c7"),
)
FAILURE_CLASSES = (
    ("attempt_429_share", "429 rate limited", "#f58518"),
    ("attempt_5xx_share", "5xx server error", "#e45756"),
    ("attempt_other_failed_share", "other non-2xx", "#9d755d"),
)
QUANTILE_COLORS = ("#4c78a8", "#f58518", "#e45756")  # p50, p90, p99


@dataclass
class Chart:
    key: str  # the figure's id on the page (chart-<key>)
    title: str
    caption: str
    svg: str  # empty when the selection has nothing to draw: `note` says why
    wide: bool = True
    note: str = ""


@dataclass
class Headline:
    label: str
    value: str
    change: str
    tone: str  # good | bad | neutral | none: how the change reads (colour only)
    arrow: str


# --- headline numbers ------------------------------------------------------------------------

# (label, column, kind, which way is better): the numbers of the header, each with its change.
HEADLINE = (
    ("Spend", "total_cost", "money", None),
    ("Requests", "requests", "count", None),
    ("Billed tokens", "billed_tokens", "tokens", None),
    ("Cache savings", "cache_discount", "money", "up"),
    ("Error rate", "error_rate", "pct", "down"),
    ("Fallback rate", "fallback_rate", "pct", "down"),
)


def _show(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "money":
        sign = "-" if value < 0 else ""
        return f"{sign}${format_metric(abs(value), 'money')}"
    return format_metric(value, kind)


def headline(now: dict[str, Any], before: dict[str, Any] | None) -> list[Headline]:
    out = []
    for label, column, kind, better in HEADLINE:
        value, old = now.get(column), (before or {}).get(column)
        if before is None:
            out.append(Headline(label, _show(value, kind), "no data in the previous period", "none", ""))
            continue
        if value is None or old is None:
            out.append(Headline(label, _show(value, kind), f"previous {_show(old, kind)}", "none", ""))
            continue
        diff = value - old
        if kind == "pct":
            change = f"{diff * 100:+.1f} pp vs {_show(old, kind)}"
        elif old == 0:
            change = f"vs {_show(old, kind)}"
        else:
            change = f"{diff / abs(old) * 100:+.1f}% vs {_show(old, kind)}"
        rounded = round(diff, 12)
        arrow = "▲" if rounded > 0 else "▼" if rounded < 0 else "="
        if better is None or rounded == 0:
            tone = "neutral"
        elif (rounded > 0) == (better == "up"):
            tone = "good"
        else:
            tone = "bad"
        out.append(Headline(label, _show(value, kind), change, tone, arrow))
    return out


# --- charts ----------------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    """A value as Vega-Lite data: JSON types only, dates as ISO text."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _values(rows: list[dict[str, Any]], columns: list[str], **extra) -> list[dict[str, Any]]:
    return [{**{c: _clean(r[c]) for c in columns}, **{k: v[i] for k, v in extra.items()}} for i, r in enumerate(rows)]


def money_format(values: list[float | None]) -> str:
    """A d3 format for dollar amounts of this size."""
    top = max((abs(v) for v in values if v is not None), default=0)
    if top >= 10:
        return "$,.0f"
    if top >= 0.1:
        return "$,.2f"
    if top >= 0.01:
        return "$,.3f"
    return "$,.5f"


def _period_end(start: date, granularity: str) -> date:
    if granularity == "day":
        return start + timedelta(days=1)
    if granularity == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def _colors(labels: list[str]) -> list[str]:
    """A colour per label, in order; (other) is grey."""
    out: list[str] = []
    for label in labels:
        kept = len(out) - out.count(OTHER_COLOR)
        out.append(OTHER_COLOR if label == OTHER_LABEL else PALETTE[kept % len(PALETTE)])
    return out


def _config() -> dict[str, Any]:
    return {
        "font": "sans-serif",
        "view": {"stroke": None},
        "axis": {"labelFontSize": 11, "titleFontSize": 12, "titleFontWeight": "normal", "labelLimit": 260},
        "legend": {"labelFontSize": 11, "titleFontSize": 12, "labelLimit": 260, "orient": "bottom", "columns": 4},
        "background": "white",
    }


def _svg(chart, key: str) -> str:
    """Render an altair chart to inline SVG (vl-convert: in-process, offline)."""
    import vl_convert

    spec = chart.configure(**_config()).to_dict()
    svg = vl_convert.vegalite_to_svg(spec)
    # Several SVGs share one document: give each its own ids (clip paths, gradients), in the
    # tags only (text never holds a '<': labels from the data stay as they are).
    return re.sub(r"<[^<>]+>", lambda tag: _scope_ids(tag.group(0), key), svg)


def _scope_ids(tag: str, key: str) -> str:
    tag = re.sub(r'(\sid=")([^"]+")', rf"\g<1>{key}-\g<2>", tag)
    tag = re.sub(r"url\(#", f"url(#{key}-", tag)
    return re.sub(r'(href=")#', rf"\g<1>#{key}-", tag)


TIME_FORMATS = {"day": "%b %d", "week": "%b %d", "month": "%b %Y"}
TIME_TITLES = {"day": "day", "week": "ISO week (starting Monday)", "month": "month"}
LABEL_PX = 6.5  # width of a character of an 11 px axis label, generously
LABEL_HEIGHT = 13  # px between two labels set at an angle


def _period_start(day: date, granularity: str) -> date:
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def periods(since: str, until: str, granularity: str) -> list[date]:
    """The start of every calendar period that meets the local window [since, until)."""
    last = date.fromisoformat(until[:10]) - timedelta(days=1 if _midnight(until) else 0)
    start, out = _period_start(date.fromisoformat(since[:10]), granularity), []
    while start <= last:
        out.append(start)
        start = _period_end(start, granularity)
    return out


def period_starts(data: PageData) -> list[date]:
    """The start of every period of the page's window, for the time axes."""
    return periods(data.window["since"], data.window["until"], data.granularity)


def _time_axis(alt, granularity: str, starts: list[date], width: int = WIDE):
    """The x axis (field `start`) of a chart over periods: one band per period of the window
    (those without data too, so a gap in the data stays a gap), each labelled with its local
    date as it is (a UTC format of the date, so the machine's own zone never shifts it). Labels
    turn when they do not fit side by side; when even vertical ones would overlap, every k-th
    period is labelled, counting back from the last."""
    domain = [p.isoformat() for p in starts]
    fmt = TIME_FORMATS[granularity]
    step = width / max(len(domain), 1)
    needed = LABEL_PX * len(starts[-1].strftime(fmt)) + 8 if starts else 0
    angle = 0 if step >= needed else -45 if step >= LABEL_HEIGHT * 1.2 else -90
    every = max(1, math.ceil(LABEL_HEIGHT / step))
    values = domain[::-1][::every][::-1]
    return alt.X(
        "start:O",
        title=TIME_TITLES[granularity],
        scale=alt.Scale(domain=domain),
        axis=alt.Axis(
            values=values,
            labelExpr=f"utcFormat(toDate(datum.value), '{fmt}')",
            labelAngle=angle,
            labelOverlap=False,
        ),
    )


def chart_spend_over_time(data: PageData, model_order: list[str]):
    import altair as alt

    rows = data.timeline.rows_of("model")
    rank = [model_order.index(r["model"]) if r["model"] in model_order else len(model_order) for r in rows]
    values = _values(rows, ["model", "total_cost"], start=[r["period"].isoformat() for r in rows], rank=rank)
    fmt = money_format([sum(r["total_cost"] for r in rows if r["period"] == p) for p in {r["period"] for r in rows}])
    return (
        alt.Chart(alt.Data(values=values))
        .mark_bar()
        .encode(
            x=_time_axis(alt, data.granularity, period_starts(data)),
            y=alt.Y("sum(total_cost):Q", title="spend (USD)", axis=alt.Axis(format=fmt)),
            color=alt.Color(
                "model:N",
                title="model",
                scale=alt.Scale(domain=model_order, range=_colors(model_order)),
                sort=model_order,
            ),
            order=alt.Order("rank:Q", sort="ascending"),
        )
        .properties(width=WIDE, height=260)
    )


def _hbar(alt, rows, label: str, metric: str, title: str, kind: str, width: int = HALF, label_title: str | None = None):
    """Horizontal bars in the order of the rows (largest spend first, (other) last), with values."""
    values = _values(rows, [label, metric, "is_other"])
    for v, r in zip(values, rows, strict=True):
        v["text"] = _show(r[metric], kind)
    fmt = money_format([r[metric] for r in rows]) if kind == "money" else (",d" if kind == "count" else ".0%")
    order = [r[label] for r in rows]
    base = alt.Chart(alt.Data(values=values)).encode(
        y=alt.Y(f"{label}:N", sort=order, title=label_title),
    )
    bars = base.mark_bar(color=PALETTE[0]).encode(
        x=alt.X(f"{metric}:Q", title=title, axis=alt.Axis(format=fmt)),
        color=alt.condition("datum.is_other", alt.value(OTHER_COLOR), alt.value(PALETTE[0])),
    )
    text = base.mark_text(align="left", dx=3, fontSize=10, color="#333").encode(x=f"{metric}:Q", text="text:N")
    return (bars + text).properties(width=width, height=max(BAR_STEP * len(rows), 40))


def chart_spend_by(rows: list[dict[str, Any]], dim: str):
    import altair as alt

    return _hbar(alt, rows, dim, "total_cost", "spend (USD)", "money")


def chart_apps(rows: list[dict[str, Any]]):
    import altair as alt

    requests = _hbar(alt, rows, "app_id", "requests", "requests (generations)", "count", width=HALF - 20)
    spend = _hbar(alt, rows, "app_id", "total_cost", "spend (USD)", "money", width=HALF - 20)
    return alt.hconcat(requests, spend, spacing=40)


def _quantile_panel(alt, values, order, metric: str, unit: str, title: str, labels: bool = True, log: bool = False):
    cols = [f"{metric}_p{q}_{unit}" for q in (50, 90, 99)]
    names = {cols[0]: "p50", cols[1]: "p90", cols[2]: "p99"}
    axis = alt.Axis() if labels else None
    base = alt.Chart(alt.Data(values=values)).encode(y=alt.Y("label:N", sort=order, title=None, axis=axis))
    # The axis spans the data: a log axis from the smallest p50 to the largest p99 (not rounded
    # out to the next powers of ten), padded so the end marks stay inside the plot.
    scale = alt.Scale(type="log", nice=False, padding=8) if log else alt.Scale(zero=True)
    if log:  # a log axis has no room for 0: those points are left out
        base = base.transform_filter(f"datum['{cols[0]}'] > 0")
    span = base.mark_rule(color="#999", strokeWidth=2).encode(
        x=alt.X(f"{cols[0]}:Q", title=title, scale=scale, axis=alt.Axis(format=",~r")), x2=f"{cols[2]}:Q"
    )
    points = (
        base.transform_fold(cols, as_=["q", "value"])
        .transform_calculate(quantile=f"{json.dumps(names)}[datum.q]")
        .mark_point(filled=True, size=55, opacity=1)
        .encode(
            x=alt.X("value:Q", title=title, scale=scale),
            color=alt.Color(
                "quantile:N", title="percentile", scale=alt.Scale(domain=["p50", "p90", "p99"], range=list(QUANTILE_COLORS))
            ),
            shape=alt.Shape(
                "quantile:N", scale=alt.Scale(domain=["p50", "p90", "p99"], range=["circle", "diamond", "triangle-right"])
            ),
        )
    )
    return (span + points).properties(width=HALF - 20, height=max(BAR_STEP * len(order), 40))


def chart_percentiles(rows: list[dict[str, Any]]):
    import altair as alt

    labels = [OTHER_LABEL if r["is_other"] else f"{r['model']} · {r['provider_name']}" for r in rows]
    cols = [f"{m}_p{q}_{u}" for m, u in (("latency", "ms"), ("throughput", "tps")) for q in (50, 90, 99)]
    values = _values(rows, cols, label=labels)
    latency = _quantile_panel(alt, values, labels, "latency", "ms", "latency* (ms, log scale; time to first token)", log=True)
    throughput = _quantile_panel(alt, values, labels, "throughput", "tps", "throughput (tokens/s)", labels=False)
    return alt.hconcat(latency, throughput, spacing=16)


def chart_cache(data: PageData):
    import altair as alt

    rows = data.timeline.rows_of("period")
    starts = [r["period"] for r in rows]
    ends = [_period_end(p, data.granularity) for p in starts]
    # The hit-rate line breaks where periods without data lie between two points.
    segment = [sum(1 for j in range(1, i + 1) if starts[j] != ends[j - 1]) for i in range(len(starts))]
    values = _values(rows, ["cache_discount", "cache_hit_rate"], start=[p.isoformat() for p in starts], segment=segment)
    base = alt.Chart(alt.Data(values=values))
    x = _time_axis(alt, data.granularity, period_starts(data))
    savings = base.mark_bar(color="#54a24b").encode(
        x=x,
        y=alt.Y(
            "cache_discount:Q", title="savings (USD)", axis=alt.Axis(format=money_format([r["cache_discount"] for r in rows]))
        ),
        y2=alt.datum(0),
    )
    hit = base.mark_line(point=True, color="#4c78a8").encode(
        x=x,
        y=alt.Y("cache_hit_rate:Q", title="cache hit rate (% of prompt tokens)", axis=alt.Axis(format=".0%")),
        detail="segment:N",
    )
    return alt.vconcat(
        savings.properties(width=WIDE, height=150), hit.properties(width=WIDE, height=150), spacing=12
    ).resolve_scale(x="shared")


def chart_provider_health(errors: list[dict[str, Any]], providers: list[dict[str, Any]]):
    import altair as alt

    order = [r["provider_name"] for r in errors]
    labels = {col: name for col, name, _c in FAILURE_CLASSES}
    values = _values(errors, ["provider_name", "attempts"] + [c for c, _n, _c in FAILURE_CLASSES])
    failed = (
        alt.Chart(alt.Data(values=values))
        .transform_fold([c for c, _n, _c in FAILURE_CLASSES], as_=["column", "share"])
        .transform_calculate(failure=f"{json.dumps(labels)}[datum.column]")
        .mark_bar()
        .encode(
            y=alt.Y("provider_name:N", sort=order, title="provider attempted"),
            x=alt.X("sum(share):Q", title="failed attempts (% of the provider's attempts)", axis=alt.Axis(format=".0%")),
            color=alt.Color(
                "failure:N",
                title="status",
                scale=alt.Scale(domain=[n for _c, n, _k in FAILURE_CLASSES], range=[k for _c, _n, k in FAILURE_CLASSES]),
            ),
        )
        .properties(width=HALF - 20, height=max(BAR_STEP * len(order), 40))
    )
    served = [r for r in providers if r["requests_with_attempts"]]
    fallback = _hbar(
        alt,
        served,
        "provider_name",
        "fallback_rate",
        "fallback rate (% of its requests)",
        "pct",
        width=HALF - 40,
        label_title="provider that served",
    )
    return alt.hconcat(failed, fallback, spacing=30).resolve_scale(color="independent")


def chart_finish_mix(rows: list[dict[str, Any]]):
    import altair as alt

    cols = [f"finish_reason_{k}_share" for k, _l, _c in FINISH_REASONS]
    labels = {f"finish_reason_{k}_share": label for k, label, _c in FINISH_REASONS}
    order = [r["model"] for r in rows]
    values = _values(rows, ["model", "requests", *cols])
    return (
        alt.Chart(alt.Data(values=values))
        .transform_fold(cols, as_=["column", "share"])
        .transform_calculate(reason=f"{json.dumps(labels)}[datum.column]", rank=f"indexof({json.dumps(cols)}, datum.column)")
        .mark_bar()
        .encode(
            y=alt.Y("model:N", sort=order, title=None),
            x=alt.X(
                "share:Q", title="share of the model's requests", axis=alt.Axis(format=".0%"), scale=alt.Scale(domain=[0, 1])
            ),
            color=alt.Color(
                "reason:N",
                title="finish_reason",
                scale=alt.Scale(domain=[label for _k, label, _c in FINISH_REASONS], range=[c for _k, _l, c in FINISH_REASONS]),
            ),
            order=alt.Order("rank:Q"),
        )
        .properties(width=WIDE - 260, height=max(BAR_STEP * len(order), 40))
    )


def charts(data: PageData) -> list[Chart]:
    top = data.report.options.top
    fold = f"the {top} largest by spend, the rest folded into (other)" if top else "every group"
    model_rows = data.by_dim["model"]
    model_order = [r["model"] for r in model_rows]
    pairs = data.model_provider.rows_of("model+provider_name")
    has_quantiles = any(r["latency_p50_ms"] is not None or r["throughput_p50_tps"] is not None for r in pairs)
    has_attempts = bool(data.provider_errors)
    return [
        Chart(
            "spend-over-time",
            f"Spend per {data.granularity}, by model",
            f"Stacked by model: {fold}. Periods are calendar {data.granularity}s in {data.report.options.tz}; "
            f"added up from {data.timeline.source}.",
            _svg(chart_spend_over_time(data, model_order), "c1"),
        ),
        Chart(
            "spend-by-provider",
            "Spend by provider",
            f"The provider that served; {fold}.",
            _svg(chart_spend_by(data.by_dim["provider_name"], "provider_name"), "c2"),
            wide=False,
        ),
        Chart(
            "spend-by-region",
            "Spend by region",
            "data_region; (null): records older than the field (mid-2026).",
            _svg(chart_spend_by(data.by_dim["data_region"], "data_region"), "c3"),
            wide=False,
        ),
        Chart(
            "apps",
            "Requests and spend by app_id",
            f"{fold.capitalize()}; (null): no app_id.",
            _svg(chart_apps(data.by_dim["app_id"]), "c4"),
        ),
        Chart(
            "percentiles",
            "Latency and throughput per model × provider",
            f"p50, p90 and p99 over the generations of each pair ({fold}). {LATENCY_NOTE}",
            _svg(chart_percentiles(pairs), "c5") if has_quantiles else "",
            note="" if has_quantiles else "No generation of this selection records a latency or a throughput.",
        ),
        Chart(
            "cache",
            f"Prompt cache: savings and hit rate per {data.granularity}",
            "Savings are Σ cache_discount (negative when cache writes cost more than reads save); "
            "hit rate is cached / billed prompt tokens.",
            _svg(chart_cache(data), "c6"),
        ),
        Chart(
            "provider-health",
            "Provider errors and fallbacks",
            "Left: every provider attempt counted under the provider it went to (sql/html_provider_errors.sql). "
            "Right: requests that needed more than one attempt, under the provider that finally served them "
            "(the report's fallback_rate).",
            _svg(chart_provider_health(data.provider_errors, data.by_dim["provider_name"]), "c7") if has_attempts else "",
            note=""
            if has_attempts
            else (
                "No provider attempts in this selection: records list them (provider_responses) only since "
                "February 2026, and response-cache hits have none."
            ),
        ),
        Chart(
            "finish-mix",
            "Finish-reason mix per model",
            f"Share of each model's requests by finish_reason; {fold}.",
            _svg(chart_finish_mix(model_rows), "c8"),
        ),
    ]


# --- tables ----------------------------------------------------------------------------------


def tables(report: Report) -> list[dict[str, Any]]:
    """The breakdowns of the text report, as cells with a display text and a sort key."""
    group_cols = (["period"] if report.options.granularity else []) + list(report.options.dims)
    out = []
    for name, rows in report.breakdowns():
        group = [c for c in group_cols if any(r[c] is not None for r in rows)]
        header = [(c, "text") for c in group] + [(label, "num") for _m, label, _k in SCREEN_METRICS]
        body = []
        for r in rows:
            cells = [(str(_clean(r[c])) if r[c] is not None else "", str(_clean(r[c]) or "")) for c in group]
            for metric, _label, kind in SCREEN_METRICS:
                value = r[metric]
                key = "" if value is None or (isinstance(value, float) and not math.isfinite(value)) else repr(value)
                cells.append((_show(value, kind), key))
            body.append({"other": r["is_other"], "cells": cells})
        out.append({"name": name, "header": header, "rows": body})
    return out


# --- the page --------------------------------------------------------------------------------


def _local(text: str | None) -> str:
    """'YYYY-MM-DD 00:00:00' as 'YYYY-MM-DD', other times as 'YYYY-MM-DD HH:MM'."""
    if not text:
        return ""
    return text[:10] if _midnight(text) else text[:16]


def _midnight(text: str) -> bool:
    return text[10:].strip(" 0:.") == ""


def span(since: str, until: str) -> str:
    """The local period [since, until) for a reader, its last day included: [2026-10-08 00:00,
    2026-10-15 00:00) is '2026-10-08 .. 2026-10-14'; an end at another time of day stays as it
    is, marked exclusive."""
    first = _local(since)
    if not _midnight(until):
        return f"{first} .. {_local(until)} (exclusive)"
    last = (date.fromisoformat(until[:10]) - timedelta(days=1)).isoformat()
    return first if last == first else f"{first} .. {last}"


def to_html(data: PageData) -> str:
    """The page of gathered data (pipeline/query/report.py, gather_page)."""
    import jinja2

    report = data.report
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    context: dict[str, Any] = {
        "lake": str(report.lake),
        "lake_path": str(Path(report.lake).resolve()),
        "selection": report.options.describe(),
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "run": data.last_run,
        "empty": report.empty,
        "empty_message": report.empty_message() if report.empty else "",
        "latency_note": LATENCY_NOTE,
    }
    if not report.empty:
        win = data.window
        total = report.total or {}
        context.update(
            window=span(win["since"], win["until"]),
            headline_window=span(win["headline_since"], win["headline_until"]),
            headline_recent=report.options.since is None,
            headline_days=HEADLINE_DAYS,
            previous_window=span(win["previous_since"], win["previous_until"]),
            days=win["days"],
            tz=report.options.tz,
            first=_when(total.get("first_created_at")),
            last=_when(total.get("last_created_at")),
            headline=headline(data.current.total or {}, None if data.previous.empty else data.previous.total),
            charts=charts(data),
            overview=overview_items(report),
            tables=tables(report),
        )
    return env.get_template(TEMPLATE).render(**context)


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "–"
