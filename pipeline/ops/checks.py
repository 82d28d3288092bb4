"""Checks that page a person: budgets, anomalies, and the webhook that carries their alerts.

Budgets (spend = Σ total_cost in USD, days and months in the configured time zone):
  * daily limits are checked for the local day of `as_of` (so far) and the day before it
    (exports often arrive a day late); monthly limits for the month of `as_of` up to `as_of`;
  * the month-end projection at the current pace is month-to-date ÷ the time elapsed in the month
    (at least one day) × the length of the month; a projected overrun is a warning, or an alert
    with `budgets.alert_on_projection`;
  * a limit applies to the total, or to one app_id / model / external_user, or with the value
    `*` to each value separately (rows without a value are not counted against `*`).

Anomalies of one local day (default: the day before `as_of`, the last complete one):
  * metrics: spend (Σ total_cost), requests (count), error rate (share of finish_reason =
    'error') and p95 latency (ms, of the `latency` field);
  * baseline: the same weekday in each of the previous `anomaly.weeks` weeks (default 4), only
    days on or after the lake's first day of data; at least `anomaly.min_baseline_days` (default
    3) are needed, else the metric is `insufficient_baseline` (so a lake needs its first day of
    data plus 3 weeks before the first anomaly can be found);
  * a day is anomalous when its robust z-score |0.6745 (x − median) / MAD| exceeds `anomaly.z`
    (default 3.5; with MAD = 0 any change counts) AND the change is material: at least
    `anomaly.min_change` (50 %) of the median for spend, requests and p95 latency, plus at least
    `anomaly.min_spend_usd` for spend, `anomaly.min_error_rate_change` (5 points) for the error
    rate, and `anomaly.min_requests` requests on the day (and the baseline median) for requests,
    error rate and latency. Spend and requests alert both ways; error rate and latency only up;
  * drivers: for the model, app_id and provider_name of each request, the part of the change
    each value explains, as a share of the whole change (shares of one dimension add up to 1):
      spend/requests  value on the day − (its share of the baseline days' total × the median)
      error rate      its errors / the day's requests − its baseline errors / baseline requests
      p95 latency     its requests slower than the baseline p95 − 5 % of its requests
    The values with the largest share in the direction of the change are named.

Every aggregation over the lake runs in DuckDB over the lake's views (sql/budget_spend.sql,
sql/anomaly_daily.sql, sql/anomaly_drivers.sql, sql/generations_span.sql,
sql/checked_requests.sql); Python only compares a handful of daily numbers.
Alerts carry a stable `key`; the webhook posts each key once (remembered in
`<lake>/.alerts-sent.json`), while the exit code stays 3 as long as an alert holds.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pipeline.errors import EXIT_ALERT, EXIT_OK, OrusageError
from pipeline.lake import layout as lake_layout
from pipeline.lake import views
from pipeline.lake.store import Lake
from pipeline.ops.config import BudgetRule, Settings
from pipeline.schema import sqlfiles

DRIVER_DIMENSIONS = ("model", "app_id", "provider_name")
TOP_DRIVERS = 3
SENT_FILE = ".alerts-sent.json"
SENT_KEEP_DAYS = 120

# --- helpers ----------------------------------------------------------------------------------


def usd(value: float | None) -> str:
    if value is None:
        return "-"
    return f"${value:,.2f}" if abs(value) >= 0.995 or value == 0 else f"${value:,.4f}"


def pct(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:+.0%}"


class _Lake:
    """The lake's views (sql/views/), and the checks' queries over them (sql/)."""

    def __init__(self, lake_root: Path, tz: str):
        if Lake(lake_root).current_version() is None:
            raise OrusageError(f"no lake at {lake_root}", "Run `orusage ingest PATH` first, or pass --lake DIR.")
        self.tz = tz
        self.lake_root = Path(lake_root)
        self.con = views.connect(lake_root)
        self.con.execute("SET TimeZone = 'UTC'")

    def span(self) -> tuple[datetime | None, datetime | None]:
        if views.has_rollup(self.lake_root):  # no day's file is opened
            first, last = sqlfiles.run_file(self.con, "rollup_span").fetchall()[0]
            return first, last
        days = list(lake_layout.partition_dirs(self.lake_root))  # only these two days' files are read
        params = {"first_day": days[0] if days else None, "last_day": days[-1] if days else None}
        first, last = sqlfiles.run_file(self.con, "generations_span", params).fetchall()[0]
        return first, last

    def query(self, name: str, params: dict) -> list[dict]:
        relation = sqlfiles.run_file(self.con, name, params)
        names = relation.columns
        return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]

    def close(self) -> None:
        self.con.close()


def _local_day(instant: datetime | None, tz: ZoneInfo) -> date | None:
    return instant.astimezone(tz).date() if instant is not None else None


def _start_of(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


# --- budgets ------------------------------------------------------------------------------------


def _rules(settings: Settings) -> list[BudgetRule]:
    rules = []
    b = settings.budgets
    if b.daily_usd is not None or b.monthly_usd is not None:
        rules.append(BudgetRule("total", "", b.daily_usd, b.monthly_usd))
    rules.extend(b.rules)
    return rules


def check_budgets(db: _Lake, settings: Settings, as_of: datetime) -> list[dict]:
    tz = ZoneInfo(settings.timezone)
    rules = _rules(settings)
    if not rules:
        return []
    today = as_of.astimezone(tz).date()
    yesterday = today - timedelta(days=1)
    month_start = today.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    first = min(yesterday, month_start)
    rows = db.query(
        "budget_spend",
        {
            "tz": settings.timezone,
            "since": _start_of(first, tz),
            "until": as_of,
            "today": today,
            "yesterday": yesterday,
            "month_start": month_start,
        },
    )
    spend: dict[tuple[str, str, str | None], float] = {}
    for row in rows:
        spend[(row["period"], row["dimension"], row["value"])] = float(row["spend"] or 0.0)
    month_seconds = (_start_of(next_month, tz) - _start_of(month_start, tz)).total_seconds()
    elapsed = max((as_of - _start_of(month_start, tz)).total_seconds(), 86_400.0)
    factor = month_seconds / min(elapsed, month_seconds)
    periods = {"today": today.isoformat(), "yesterday": yesterday.isoformat(), "month": month_start.strftime("%Y-%m")}

    results = []
    for rule in rules:
        dimension = rule.dimension
        for period, limit in (("today", rule.daily_usd), ("yesterday", rule.daily_usd), ("month", rule.monthly_usd)):
            if limit is None:
                continue
            if dimension == "total":
                values = {None: spend.get((period, "total", None), 0.0)}
            elif rule.value == "*":
                values = {v: s for (p, d, v), s in spend.items() if p == period and d == dimension and v is not None}
            else:
                values = {rule.value: spend.get((period, dimension, rule.value), 0.0)}
            checked = []
            for value, amount in values.items():
                item = {
                    "check": "budget",
                    "limit_kind": "monthly" if period == "month" else "daily",
                    "period": periods[period],
                    "dimension": dimension,
                    "value": value,
                    "scope": "total" if dimension == "total" else f"{dimension}={value}",
                    "spend": round(amount, 6),
                    "limit": limit,
                    "used": round(amount / limit, 4) if limit else None,
                }
                if period == "month":
                    item["projection"] = round(amount * factor, 6)
                status = "ok"
                if amount > limit:
                    status = "exceeded"
                elif period == "month" and item["projection"] > limit:
                    status = "projected"
                item["status"] = status
                item["alert"] = status == "exceeded" or (status == "projected" and settings.budgets.alert_on_projection)
                item["key"] = f"budget:{item['limit_kind']}:{item['scope']}:{item['period']}"
                item["message"] = _budget_message(item)
                checked.append(item)
            if rule.value == "*" and dimension != "total":
                flagged = [c for c in checked if c["status"] != "ok"]
                top = max(checked, key=lambda c: c["spend"], default=None)
                if not flagged:
                    results.append(
                        {
                            "check": "budget",
                            "limit_kind": "monthly" if period == "month" else "daily",
                            "period": periods[period],
                            "dimension": dimension,
                            "value": "*",
                            "scope": f"{dimension}=*",
                            "spend": top["spend"] if top else 0.0,
                            "limit": limit,
                            "used": top["used"] if top else 0.0,
                            "status": "ok",
                            "alert": False,
                            "key": f"budget:{'monthly' if period == 'month' else 'daily'}:{dimension}=*:{periods[period]}",
                            "message": f"every {dimension} within {usd(limit)}"
                            + (f" (highest {top['value']}: {usd(top['spend'])})" if top else ""),
                        }
                    )
                results.extend(sorted(flagged, key=lambda c: -c["spend"]))
            else:
                results.extend(checked)
    return results


def _budget_message(item: dict) -> str:
    what = f"{item['limit_kind']} budget of {item['scope']} for {item['period']}"
    text = f"{what}: spent {usd(item['spend'])} of {usd(item['limit'])}"
    if item["status"] == "exceeded":
        text = f"{what} exceeded: spent {usd(item['spend'])}, limit {usd(item['limit'])}"
    if "projection" in item:
        text += f"; month-end projection {usd(item['projection'])}"
        if item["status"] == "projected":
            text += " (over the limit at the current pace)"
    return text


# --- anomalies ----------------------------------------------------------------------------------


@dataclass
class _Metric:
    name: str
    label: str
    both_ways: bool


METRICS = (
    _Metric("spend", "spend", True),
    _Metric("requests", "requests", True),
    _Metric("error_rate", "error rate", False),
    _Metric("p95_latency", "p95 latency", False),
)


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric == "spend":
        return usd(value)
    if metric == "requests":
        return f"{value:,.0f}"
    if metric == "error_rate":
        return f"{value:.1%}"
    return f"{value:,.0f} ms"


def robust_z(value: float, baseline: list[float]) -> tuple[float, float, float]:
    """(median, MAD, robust z) of `value` against `baseline`; z is ±inf when MAD is 0 and the
    value differs from the median."""
    median = statistics.median(baseline)
    mad = statistics.median(abs(v - median) for v in baseline)
    if mad != 0:
        return median, mad, 0.6745 * (value - median) / mad
    if value == median:
        return median, mad, 0.0
    return median, mad, math.copysign(math.inf, value - median)


def check_anomalies(db: _Lake, settings: Settings, day: date) -> list[dict]:
    a = settings.anomaly
    if not a.enabled:
        return []
    tz = ZoneInfo(settings.timezone)
    first_at, last_at = db.span()
    first_day, last_day = _local_day(first_at, tz), _local_day(last_at, tz)
    baseline_days = [day - timedelta(weeks=k) for k in range(1, a.weeks + 1)]
    baseline_days = [d for d in baseline_days if first_day is not None and d >= first_day]
    base = {
        "check": "anomaly",
        "day": day.isoformat(),
        "weekday": day.strftime("%a"),
        "baseline_days": [d.isoformat() for d in baseline_days],
    }
    if last_day is None or last_day < day:
        return [
            {**base, "metric": m.name, "status": "no_data", "alert": False, "message": f"no data for {day} in the lake yet"}
            for m in METRICS
        ]
    days = [day, *baseline_days]
    params = {
        "tz": settings.timezone,
        "since": _start_of(min(days), tz),
        "until": _start_of(day + timedelta(days=1), tz),
        "days": days,
    }
    daily = {row["day"]: row for row in db.query("anomaly_daily", params)}
    zero = {"spend": 0.0, "requests": 0, "errors": 0, "p95_latency": None}
    today = daily.get(day, zero)
    base_rows = [daily.get(d, zero) for d in baseline_days]

    def value_of(row: dict, metric: str) -> float | None:
        if metric == "spend":
            return float(row["spend"] or 0.0)
        if metric == "requests":
            return float(row["requests"])
        if row["requests"] < a.min_requests:
            return None
        if metric == "error_rate":
            return row["errors"] / row["requests"]
        return None if row["p95_latency"] is None else float(row["p95_latency"])

    results = []
    judged = {}
    for metric in METRICS:
        x = value_of(today, metric.name)
        values = [v for v in (value_of(r, metric.name) for r in base_rows) if v is not None]
        item = {**base, "metric": metric.name, "value": x, "baseline_values": values}
        if len(values) < a.min_baseline_days:
            item.update(
                status="insufficient_baseline",
                alert=False,
                message=f"{metric.label}: {len(values)} baseline day(s), {a.min_baseline_days} needed",
            )
            results.append(item)
            continue
        if x is None:
            item.update(
                status="ok",
                alert=False,
                message=f"{metric.label}: fewer than {a.min_requests} requests on {day}, not judged",
            )
            results.append(item)
            continue
        median, mad, z = robust_z(x, values)
        change = x - median
        item.update(
            baseline_median=median,
            mad=mad,
            robust_z=None if math.isinf(z) else round(z, 3),
            change=change,
            change_ratio=(change / median) if median else None,
            direction="up" if change > 0 else "down" if change < 0 else "flat",
        )
        material = abs(z) > a.z and (metric.both_ways or change > 0)
        if metric.name == "spend":
            material = material and abs(change) >= a.min_change * abs(median) and abs(change) >= a.min_spend_usd
        elif metric.name == "requests":
            material = material and abs(change) >= a.min_change * median and max(x, median) >= a.min_requests
        elif metric.name == "error_rate":
            material = material and change >= a.min_error_rate_change
        else:
            material = material and change >= a.min_change * median
        if metric.name in ("error_rate", "p95_latency"):
            base_requests = statistics.median(r["requests"] for r in base_rows)
            material = material and base_requests >= a.min_requests
        item["status"] = "anomaly" if material else "ok"
        item["alert"] = material
        item["key"] = f"anomaly:{metric.name}:{day.isoformat()}"
        judged[metric.name] = item
        results.append(item)

    if any(i["alert"] for i in judged.values()):
        slow_ms = judged["p95_latency"]["baseline_median"] if "p95_latency" in judged else None
        rows = db.query("anomaly_drivers", {**params, "slow_ms": slow_ms})
        for item in judged.values():
            if item["alert"]:
                item["drivers"] = _drivers(item, rows, day, baseline_days, today, base_rows)
    for item in results:
        if "message" not in item:
            item["message"] = _anomaly_message(item, settings)
    return results


def _drivers(item: dict, rows: list[dict], day: date, baseline_days: list[date], today: dict, base_rows: list[dict]) -> dict:
    """dimension -> the values that drove the change, with their contribution and share."""
    metric = item["metric"]
    out = {}
    for dimension in DRIVER_DIMENSIONS:
        mine = [r for r in rows if r["dimension"] == dimension]
        on_day = {r["value"]: r for r in mine if r["day"] == day}
        in_base: dict[str, dict] = {}
        for r in mine:
            if r["day"] != day:
                acc = in_base.setdefault(r["value"], {"spend": 0.0, "requests": 0, "errors": 0})
                acc["spend"] += float(r["spend"] or 0.0)
                acc["requests"] += r["requests"]
                acc["errors"] += r["errors"]
        values = set(on_day) | set(in_base)
        contributions: dict[str, float] = {}
        if metric in ("spend", "requests"):
            base_total = sum(float(r[metric] or 0) for r in base_rows)
            for v in values:
                x = float(on_day[v][metric] or 0) if v in on_day else 0.0
                share = (in_base[v][metric] / base_total) if v in in_base and base_total else 0.0
                contributions[v] = x - share * item["baseline_median"]
            total = item["change"]
        elif metric == "error_rate":
            n, m = today["requests"], sum(r["requests"] for r in base_rows)
            for v in values:
                e = on_day[v]["errors"] if v in on_day else 0
                eb = in_base[v]["errors"] if v in in_base else 0
                contributions[v] = e / n - (eb / m if m else 0.0)
            total = sum(contributions.values())
        else:
            for v in values:
                if v in on_day:
                    contributions[v] = on_day[v]["slow"] - 0.05 * on_day[v]["requests"]
            total = sum(contributions.values())
        sign = 1 if total >= 0 else -1
        ranked = sorted(contributions.items(), key=lambda kv: (-sign * kv[1], kv[0]))
        out[dimension] = [
            {"value": v, "contribution": round(c, 6), "share": round(c / total, 4) if total else None}
            for v, c in ranked[:TOP_DRIVERS]
            if sign * c > 0
        ]
    return out


def _anomaly_message(item: dict, settings: Settings) -> str:
    metric = item["metric"]
    label = next(m.label for m in METRICS if m.name == metric)
    base = (
        f"baseline median {_fmt(metric, item['baseline_median'])} of {len(item['baseline_values'])} previous {item['weekday']}s"
    )
    if item["status"] != "anomaly":
        return f"{label} {_fmt(metric, item['value'])} on {item['day']} ({base})"
    if metric == "error_rate":
        change = f"{item['change'] * 100:+.1f} points"
    else:
        change = pct(item["change_ratio"]) if item["change_ratio"] is not None else f"{_fmt(metric, item['change'])} more"
    text = f"{label} {_fmt(metric, item['value'])} on {item['day']} ({item['weekday']}), {change} against the {base}"
    parts = []
    for dimension, drivers in item.get("drivers", {}).items():
        named = ", ".join(f"{d['value']} {d['share']:.0%}" for d in drivers if d["share"] is not None)
        if named:
            parts.append(f"{dimension} {named}")
    if parts:
        text += "; drivers: " + "; ".join(parts)
    return text


# --- all checks -----------------------------------------------------------------------------------


def run_checks(lake_root: Path, settings: Settings, *, as_of: datetime | None = None, day: date | None = None) -> dict:
    """Budgets and anomalies of the lake; `exit_code` is 3 when any alert holds, else 0."""
    clock = time.monotonic()
    as_of = as_of or datetime.now(UTC)
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=ZoneInfo(settings.timezone))
    tz = ZoneInfo(settings.timezone)
    day = day or (as_of.astimezone(tz).date() - timedelta(days=1))
    db = _Lake(lake_root, settings.timezone)
    try:
        budgets = check_budgets(db, settings, as_of)
        anomalies = check_anomalies(db, settings, day)
        checked = _checked(db, settings, as_of, day)
    finally:
        db.close()
    alerts = [
        {"key": i["key"], "check": i["check"], "message": i["message"], "details": i}
        for i in budgets + anomalies
        if i.get("alert")
    ]
    if alerts:
        status = "alert"
    elif checked is None:
        status = "nothing_to_check"
    else:
        status = "ok" if checked["requests"] else "no_data"
    return {
        "lake": str(Path(lake_root).resolve()),
        "as_of": _iso(as_of),
        "timezone": settings.timezone,
        "day": day.isoformat(),
        "status": status,
        "checked": checked,
        "budgets": budgets,
        "anomalies": anomalies,
        "alerts": alerts,
        "exit_code": EXIT_ALERT if alerts else EXIT_OK,
        "seconds": round(time.monotonic() - clock, 3),
    }


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _checked(db: _Lake, settings: Settings, as_of: datetime, day: date) -> dict | None:
    """The span the checks look at (budgets: the day before as_of's day, or the month's start, to
    as_of; anomalies: the day judged) and the lake's requests in it; None when no check is on."""
    tz = ZoneInfo(settings.timezone)
    spans: list[tuple[datetime, datetime]] = []
    if _rules(settings):
        today = as_of.astimezone(tz).date()
        first = min(today - timedelta(days=1), today.replace(day=1))
        spans.append((_start_of(first, tz), as_of))
    if settings.anomaly.enabled:
        spans.append((_start_of(day, tz), _start_of(day + timedelta(days=1), tz)))
    if not spans:
        return None
    (since1, until1), (since2, until2) = spans[0], spans[-1]
    params = {"since1": since1, "until1": until1, "since2": since2, "until2": until2}
    rows = db.query("checked_requests", params)
    since, until = min(since1, since2), max(until1, until2)
    last = db.span()[1]
    return {
        "since": _iso(since),
        "until": _iso(until),
        "requests": int(rows[0]["requests"]) if rows else 0,
        "lake_last_created_at": _iso(last) if last is not None else None,
    }


def render_checks(result: dict, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title=f"checks of {result['lake']} as of {result['as_of']} ({result['timezone']})", header_style="bold")
    for column in ("check", "scope", "period", "value", "limit / baseline", "status"):
        table.add_column(column, overflow="fold")
    colors = {"ok": "green", "exceeded": "red", "anomaly": "red", "projected": "yellow"}
    for item in result["budgets"]:
        value = usd(item["spend"])
        if "projection" in item:
            value += f" (proj. {usd(item['projection'])})"
        status = item["status"] + (" ALERT" if item["alert"] else "")
        table.add_row(
            f"budget {item['limit_kind']}",
            item["scope"],
            item["period"],
            value,
            usd(item["limit"]),
            f"[{colors.get(item['status'], 'white')}]{status}[/]",
        )
    for item in result["anomalies"]:
        baseline = _fmt(item["metric"], item.get("baseline_median")) if "baseline_median" in item else "-"
        if item.get("baseline_values") is not None:
            baseline += f" ({len(item['baseline_values'])} days)"
        table.add_row(
            f"anomaly {item['metric']}",
            "total",
            item["day"],
            _fmt(item["metric"], item.get("value")),
            baseline,
            f"[{colors.get(item['status'], 'white')}]{item['status']}[/]",
        )
    console.print(table)
    for alert in result["alerts"]:
        console.print(f"[red]ALERT[/red] {alert['message']}", markup=True, highlight=False)
    if not result["alerts"]:
        console.print(_verdict(result), highlight=False)
    hook = result.get("webhook")
    if hook and hook.get("error"):
        console.print(f"[yellow]webhook failed:[/yellow] {hook['error']}")


def _verdict(result: dict) -> str:
    """The last line when nothing alerts: passing, no data to check, or nothing to check."""
    checked = result.get("checked")
    if result.get("status") == "nothing_to_check" or checked is None:
        return "nothing to check: no budget is set and the anomaly checks are off (see docs/operations.md)"
    if result.get("status") != "no_data":
        return "all checks passed"
    tz = ZoneInfo(result["timezone"])

    def local(text: str) -> str:
        return datetime.fromisoformat(text).astimezone(tz).strftime("%Y-%m-%d %H:%M")

    text = (
        f"no data to check: the lake has no requests from {local(checked['since'])} to "
        f"{local(checked['until'])} ({result['timezone']}), so nothing was judged"
    )
    if checked.get("lake_last_created_at"):
        text += f"; its data ends {local(checked['lake_last_created_at'])}"
    return text


# --- webhook ------------------------------------------------------------------------------------


def webhook_payload(result: dict, alerts: list[dict]) -> dict:
    lines = [f"orusage: {len(alerts)} alert(s) for the lake {result['lake']} (as of {result['as_of']})"]
    lines += [f"• {a['message']}" for a in alerts]
    return {
        "text": "\n".join(lines),
        "lake": result["lake"],
        "as_of": result["as_of"],
        "timezone": result["timezone"],
        "alerts": alerts,
    }


def _load_sent(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_sent(path: Path, sent: dict[str, str]) -> None:
    cutoff = (datetime.now(UTC) - timedelta(days=SENT_KEEP_DAYS)).isoformat()
    kept = {k: v for k, v in sent.items() if v >= cutoff}
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(kept, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def notify(result: dict, settings: Settings, lake_root: Path, *, log=None, sleep=time.sleep) -> dict | None:
    """POST the alerts not posted before to the webhook; returns what happened (None when no
    webhook is configured). A failure is reported, never raised: the alert's exit code stands."""
    hook = settings.webhook
    if not hook.url:
        return None
    state = Path(lake_root) / SENT_FILE
    sent = _load_sent(state)
    new = [a for a in result["alerts"] if a["key"] not in sent]
    outcome = {
        "url": settings.public()["webhook.url"],
        "alerts": len(new),
        "already_sent": len(result["alerts"]) - len(new),
        "ok": True,
        "attempts": 0,
        "error": None,
    }
    if not new:
        return outcome
    import httpx

    payload = webhook_payload(result, new)
    delay = hook.backoff_seconds
    error = None
    with httpx.Client(timeout=hook.timeout_seconds) as client:
        for attempt in range(hook.retries + 1):
            outcome["attempts"] = attempt + 1
            try:
                response = client.post(hook.url, json=payload)
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
                retry = True
            else:
                if response.is_success:
                    error = None
                    break
                error = f"HTTP {response.status_code}"
                retry = response.status_code >= 500 or response.status_code == 429
            if log is not None:
                log.warning("webhook_attempt_failed", attempt=attempt + 1, error=error)
            if not retry or attempt == hook.retries:
                break
            sleep(delay)
            delay *= 2
    if error is not None:
        outcome.update(ok=False, error=error)
        return outcome
    now = datetime.now(UTC).isoformat()
    sent.update({a["key"]: now for a in new})
    try:
        _save_sent(state, sent)
    except OSError as exc:
        outcome["error"] = f"posted, but {state} could not be written ({exc})"
    return outcome
