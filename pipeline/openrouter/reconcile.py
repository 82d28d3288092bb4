"""Reconciliation: the lake against OpenRouter's own daily numbers (`GET /api/v1/activity`).

An activity export is `{"data": [ActivityItem, ...]}` or a bare list of items, one item per
date x model x endpoint (x workspace). The items are checked and loaded into DuckDB, and
`sql/reconcile_activity.sql` compares them, day x model x provider, with sums over the lake's
`generations` view. Only the days each activity file covers (its first to its last date) are
compared; the lake's other days are listed, not judged. docs/reconcile.md has the rules.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.errors import InputError, OrusageError
from pipeline.lake import views
from pipeline.lake.store import Lake
from pipeline.schema import sqlfiles

METRICS = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "cached_tokens",
    "usage",
    "byok_usage_inference",
)
MONEY = ("usage", "byok_usage_inference")
KEY_COLUMNS = ("day", "model", "provider", "missing_in", "note", "model_match", "lake_models")

ACTIVITY_SCHEMA = pa.schema(
    [
        pa.field("date", pa.date32()),
        pa.field("model", pa.string()),
        pa.field("model_permaslug", pa.string()),
        pa.field("endpoint_id", pa.string()),
        pa.field("provider_name", pa.string()),
        pa.field("workspace_id", pa.string()),
        pa.field("requests", pa.int64()),
        pa.field("prompt_tokens", pa.int64()),
        pa.field("completion_tokens", pa.int64()),
        pa.field("reasoning_tokens", pa.int64()),
        pa.field("cached_tokens", pa.int64()),
        pa.field("usage", pa.float64()),
        pa.field("byok_usage_inference", pa.float64()),
    ]
)
_STRINGS = ("model", "model_permaslug", "endpoint_id", "provider_name", "workspace_id")
_COUNTS = ("requests", "prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FIX = 'Give the JSON saved from GET /api/v1/activity ({"data": [...]} or a list of items).'


# --- the activity files ----------------------------------------------------------------------


@dataclass
class ActivityFile:
    path: str
    items: int
    first_day: date | None
    last_day: date | None


def _number(value, where: str, path: str, integral: bool):
    if value is None:
        return None  # a null count or amount is read as 0 by the query
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(path, f"{where}: expected a number, got {json.dumps(value)[:40]}", _FIX)
    if integral:
        if float(value) != int(value):
            raise InputError(path, f"{where}: expected an integer, got {value}", _FIX)
        return int(value)
    return float(value)


def load_activity(paths: list[Path], fetched: Sequence[tuple[str, object]] = ()) -> tuple[pa.Table, list[ActivityFile]]:
    """The items of every activity file, and of each `(where, answer)` fetched from the API,
    checked, as one table (ACTIVITY_SCHEMA).

    The same item in two files (overlapping exports) is counted once; the same date x model x
    endpoint x workspace with other numbers in two places is an error."""
    columns: dict[str, list] = {name: [] for name in ACTIVITY_SCHEMA.names}
    files: list[ActivityFile] = []
    seen: dict[tuple, tuple[tuple, str]] = {}
    sources: list[tuple[str, object]] = []
    for path in paths:
        path = Path(path)
        try:
            sources.append((str(path), json.loads(path.read_bytes())))
        except FileNotFoundError as exc:
            raise InputError(str(path), "no such file", "Check the path and try again.") from exc
        except (OSError, ValueError) as exc:
            raise InputError(str(path), f"is not readable JSON ({exc})", _FIX) from exc
    sources.extend(fetched)
    for where_file, doc in sources:
        items = doc.get("data") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise InputError(where_file, 'holds neither a list of activity items nor {"data": [...]}', _FIX)
        days: list[date] = []
        for i, item in enumerate(items):
            where = f"data[{i}]"
            if not isinstance(item, dict):
                raise InputError(where_file, f"{where}: expected an object", _FIX)
            raw_day = item.get("date")
            if not isinstance(raw_day, str) or not _DATE.match(raw_day[:10]):
                raise InputError(where_file, f"{where}.date: expected YYYY-MM-DD, got {json.dumps(raw_day)}", _FIX)
            try:
                day = date.fromisoformat(raw_day[:10])
            except ValueError as exc:
                raise InputError(where_file, f"{where}.date: {exc}", _FIX) from exc
            row: dict = {"date": day}
            for name in _STRINGS:
                value = item.get(name)
                if value is not None and not isinstance(value, str):
                    raise InputError(where_file, f"{where}.{name}: expected a string, got {json.dumps(value)[:40]}", _FIX)
                row[name] = value
            if row["model"] is None and row["model_permaslug"] is None:
                raise InputError(where_file, f"{where}: has neither model nor model_permaslug", _FIX)
            for name in _COUNTS:
                row[name] = _number(item.get(name), f"{where}.{name}", where_file, integral=True)
            for name in MONEY:
                row[name] = _number(item.get(name), f"{where}.{name}", where_file, integral=False)
            key = tuple(row[k] for k in ("date", "model", "model_permaslug", "endpoint_id", "provider_name", "workspace_id"))
            values = tuple(row[k] for k in _COUNTS + MONEY)
            days.append(day)
            if key in seen:
                if seen[key][0] == values:
                    continue  # the same item exported twice
                raise OrusageError(
                    f"{where_file}: {where} ({day}, {row['model'] or row['model_permaslug']}, "
                    f"{row['endpoint_id'] or row['provider_name']}) has other numbers than the same item in {seen[key][1]}",
                    "Give activity files that do not overlap, or the same export once.",
                )
            seen[key] = (values, f"{where_file} {where}")
            for name in ACTIVITY_SCHEMA.names:
                columns[name].append(row[name])
        files.append(ActivityFile(where_file, len(items), min(days) if days else None, max(days) if days else None))
    return pa.table(columns, schema=ACTIVITY_SCHEMA), files


def compared_days(files: list[ActivityFile]) -> list[date]:
    """Every day from each file's first to its last date (the union over the files)."""
    days: set[date] = set()
    for f in files:
        if f.first_day is None:
            continue
        n = (f.last_day - f.first_day).days
        days.update(f.first_day + timedelta(d) for d in range(n + 1))
    return sorted(days)


def day_ranges(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days folded into (first, last) ranges."""
    out: list[tuple[date, date]] = []
    for d in days:
        if out and d == out[-1][1] + timedelta(1):
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def format_ranges(days: list[date]) -> str:
    parts = [str(a) if a == b else f"{a}..{b}" for a, b in day_ranges(days)]
    return ", ".join(parts) if parts else "none"


# --- the comparison --------------------------------------------------------------------------


@dataclass
class Result:
    rows: list[dict]  # every key of the compared days, agreeing or not (the query's rows)
    compared_days: list[date]
    lake_days_skipped: dict[date, int]  # day -> lake rows, for lake days not compared
    activity_files: list[ActivityFile]
    tolerance_usd: float
    tolerance_pct: float
    totals: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def differing(self) -> list[dict]:
        return [r for r in self.rows if not r["agrees"]]

    @property
    def agrees(self) -> bool:
        return not self.differing

    @property
    def unmatched(self) -> list[dict]:
        """Names one side has that the other side could not be matched to, with their totals."""
        groups: dict[tuple, dict] = {}
        for r in self.rows:
            note = r["note"]
            if not note or not note.endswith(("any activity model", "any activity provider", "found in the lake")):
                continue
            side = "lake" if r["missing_in"] == "activity" else "activity"
            what = "model" if "model" in note else "provider"
            name = (r["lake_models"] if side == "lake" else r["model"]) if what == "model" else r["provider"]
            g = groups.setdefault(
                (side, what, name), {"side": side, "kind": what, "name": name, "requests": 0, "usage": 0.0, "days": 0}
            )
            g["requests"] += r[f"{side}_requests"]
            g["usage"] += r[f"{side}_usage"]
            g["days"] += 1
        return sorted(groups.values(), key=lambda g: (g["side"], g["kind"], g["name"] or ""))


def reconcile(
    activity_paths: list[Path],
    lake_root: Path,
    tolerance_usd: float = 1e-6,
    tolerance_pct: float = 0.0,
    *,
    fetched: Sequence[tuple[str, object]] = (),
    days: list[date] | None = None,
) -> Result:
    """Compare the activity files (and answers `fetched` from the API) with the lake, over
    `days` (default: each file's first to last date); raises OrusageError when it cannot."""
    if tolerance_usd < 0 or tolerance_pct < 0:
        raise OrusageError("tolerances cannot be negative", "Give --tolerance-usd and --tolerance-pct >= 0.")
    activity, files = load_activity([Path(p) for p in activity_paths], fetched)
    if days is None:
        days = compared_days(files)
    else:  # the items of other days are left out, as the lake's are
        days = sorted(days)
        activity = activity.filter(pc.is_in(activity.column("date"), value_set=pa.array(days, pa.date32())))
    if not days:
        raise OrusageError("the activity files hold no items, so no day can be compared", _FIX)
    if Lake(lake_root).current_version() is None:
        raise _no_records(lake_root)
    con = views.connect(lake_root)
    try:
        con.execute("SET TimeZone = 'UTC'")
        # The days the lake holds: from the rollup when it keeps one (no day's file is opened).
        counts = "rollup_per_day" if views.has_rollup(lake_root) else "generations_per_day"
        per_day = dict(sqlfiles.run_file(con, counts).fetchall())
        if not per_day:
            raise _no_records(lake_root)
        wanted = set(days)
        skipped = {d: n for d, n in per_day.items() if d not in wanted}
        con.register("activity_rows", activity)
        table = sqlfiles.run_file(
            con,
            "reconcile_activity",
            {"days": days, "tolerance_usd": float(tolerance_usd), "tolerance_pct": float(tolerance_pct)},
        ).to_arrow_table()
    finally:
        con.close()
    rows = table.to_pylist()
    result = Result(rows, days, dict(sorted(skipped.items())), files, tolerance_usd, tolerance_pct)
    result.totals = _totals(rows)
    return result


def _no_records(lake_root: Path) -> OrusageError:
    return OrusageError(
        f"the lake at {lake_root} has no generation records",
        "Run `orusage ingest` first, or pass --lake with the lake directory.",
    )


def _totals(rows: list[dict]) -> dict[str, dict[str, float]]:
    out = {}
    for m in METRICS:
        a = sum(r[f"activity_{m}"] for r in rows)
        b = sum(r[f"lake_{m}"] for r in rows)
        if m in MONEY:
            a, b = round(a, 12), round(b, 12)
        out[m] = {"activity": a, "lake": b, "diff": round(b - a, 12) if m in MONEY else b - a}
    return out


# --- output ----------------------------------------------------------------------------------


def _fmt(metric: str, value) -> str:
    if metric in MONEY:
        return f"{value:.6f}"
    return f"{int(value):,}"


def _fmt_diff(metric: str, value) -> str:
    if metric in MONEY:
        return f"{value:+.6f}"
    return f"{int(value):+,}"


def _within(metric: str, diff: float, activity: float, result: Result) -> bool:
    limit = result.tolerance_pct / 100 * abs(activity)
    if metric in MONEY:
        limit = max(limit, result.tolerance_usd)
    return abs(diff) <= limit


def _side_label(row: dict) -> str:
    if row["missing_in"] == "activity":
        return "lake only"
    if row["missing_in"] == "lake":
        return "activity only"
    return "both"


def render_table(result: Result, echo) -> None:
    """The human report: the days, one block per differing key, the unmatched names, totals."""
    echo(f"Compared days (UTC): {format_ranges(result.compared_days)} ({len(result.compared_days)} days)")
    if result.lake_days_skipped:
        n = sum(result.lake_days_skipped.values())
        echo(
            f"Lake days not compared (outside {_compared_what(result)}): {format_ranges(list(result.lake_days_skipped))} "
            f"({len(result.lake_days_skipped)} days, {n:,} records)"
        )
    echo(f"Tolerance: {result.tolerance_usd:g} USD, {result.tolerance_pct:g} %")
    echo("")
    differing = result.differing
    if differing:
        verb = "differs" if len(differing) == 1 else "differ"
        echo(f"{len(differing)} of {len(result.rows)} day x model x provider keys {verb}:")
        header = (
            f"  {'day':<10}  {'model':<40}  {'provider':<20}  {'side':<13}  {'metric':<20}  "
            f"{'activity':>14}  {'lake':>14}  {'difference':>14}"
        )
        echo(header)
        for r in differing:
            shown = [m for m in METRICS if not _within(m, r[f"diff_{m}"], r[f"activity_{m}"], result)]
            for i, m in enumerate(shown):
                key = (
                    f"  {r['day']!s:<10}  {_clip(r['model'], 40):<40}  {_clip(r['provider'], 20):<20}  {_side_label(r):<13}"
                    if i == 0
                    else "  " + " " * (10 + 2 + 40 + 2 + 20 + 2 + 13)
                )
                echo(
                    f"{key}  {m:<20}  {_fmt(m, r[f'activity_{m}']):>14}  {_fmt(m, r[f'lake_{m}']):>14}  "
                    f"{_fmt_diff(m, r[f'diff_{m}']):>14}"
                )
            if r["note"]:
                echo("  " + " " * (10 + 2 + 40 + 2 + 20 + 2 + 13) + f"  ({r['note']})")
    else:
        echo(f"All {len(result.rows)} day x model x provider keys agree within tolerance.")
    unmatched = result.unmatched
    if unmatched:
        echo("")
        echo("Names that could not be matched:")
        for u in unmatched:
            echo(
                f"  {u['side']} {u['kind']} {u['name'] or '(none)'}: {u['requests']:,} requests, "
                f"{u['usage']:.6f} USD over {u['days']} day-keys"
            )
    echo("")
    echo("Totals over the compared days:")
    echo(f"  {'metric':<20}  {'activity':>16}  {'lake':>16}  {'difference':>16}")
    for m, t in result.totals.items():
        echo(f"  {m:<20}  {_fmt(m, t['activity']):>16}  {_fmt(m, t['lake']):>16}  {_fmt_diff(m, t['diff']):>16}")
    echo("")
    many = "key differs" if len(differing) == 1 else "keys differ"
    echo("Result: " + ("agrees within tolerance." if result.agrees else f"{len(differing)} {many} beyond tolerance."))


def _compared_what(result: Result) -> str:
    """What chose the compared days: the activity files, or --days of a fetched activity."""
    if result.activity_files and all(f.path.startswith("GET ") for f in result.activity_files):
        return "--days"
    return "the activity files"


def _clip(text: str | None, width: int) -> str:
    text = text or ""
    return text if len(text) <= width else text[: width - 1] + "…"


def output_columns() -> list[str]:
    cols = list(KEY_COLUMNS)
    for m in METRICS:
        cols += [f"activity_{m}", f"lake_{m}", f"diff_{m}"]
    return cols


def _plain(row: dict) -> dict:
    out = {c: row[c] for c in output_columns()}
    out["day"] = str(out["day"])
    return out


def to_json(result: Result) -> str:
    doc = {
        "agrees": result.agrees,
        "compared_days": [str(d) for d in result.compared_days],
        "lake_days_not_compared": {str(d): n for d, n in result.lake_days_skipped.items()},
        "tolerance_usd": result.tolerance_usd,
        "tolerance_pct": result.tolerance_pct,
        "activity_files": [
            {
                "path": f.path,
                "items": f.items,
                "first_day": str(f.first_day) if f.first_day else None,
                "last_day": str(f.last_day) if f.last_day else None,
            }
            for f in result.activity_files
        ],
        "keys_compared": len(result.rows),
        "differences": [_plain(r) for r in result.differing],
        "unmatched": result.unmatched,
        "totals": result.totals,
    }
    return json.dumps(doc, indent=2)


def to_csv(result: Result) -> str:
    """The differing keys, one row each, then one row `day = TOTAL` with the totals."""
    buf = io.StringIO()
    cols = output_columns()
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    for r in result.differing:
        writer.writerow(_plain(r))
    total = dict.fromkeys(cols, "")
    total["day"] = "TOTAL"
    for m, t in result.totals.items():
        total[f"activity_{m}"], total[f"lake_{m}"], total[f"diff_{m}"] = t["activity"], t["lake"], t["diff"]
    writer.writerow(total)
    return buf.getvalue()


# --- GET /api/v1/activity ----------------------------------------------------------------------

ACTIVITY_DAYS = 30  # the endpoint answers the last 30 completed UTC days


def completed_days(n: int, today: date) -> list[date]:
    """The last `n` completed UTC days before `today`, oldest first."""
    return [today - timedelta(days=k) for k in range(n, 0, -1)]


def fetch_activity(
    base_url: str,
    key: str,
    key_env: str,
    *,
    timeout: float = 30.0,
    max_attempts: int = 5,
    backoff_base: float = 0.5,
    sleep=None,
) -> object:
    """The answer of GET /api/v1/activity (a management key), retried on 429 / 5xx / network
    errors with backoff, honouring Retry-After; 401/403 raise an error naming `key_env`."""
    import random
    import time

    import httpx

    from pipeline.openrouter.collect import AuthError, retry_after_seconds

    sleep = sleep or time.sleep
    rng = random.Random()
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json", "User-Agent": "orusage-reconcile"}
    last = "no answer"
    with httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=httpx.Timeout(timeout)) as client:
        for attempt in range(1, max_attempts + 1):
            delay = None
            try:
                response = client.get("/activity")
            except httpx.TransportError as exc:
                response, last = None, f"connection failed ({type(exc).__name__})"
            if response is not None:
                status = response.status_code
                if status == 200:
                    try:
                        return response.json()
                    except ValueError:
                        last = "an answer that is not JSON"
                elif status in (401, 403):
                    raise AuthError(
                        f"GET /activity answered {status} {response.reason_phrase} at {base_url}",
                        f"Set ${key_env} to a management key (API keys cannot read the activity).",
                    )
                elif status == 429 or status >= 500:
                    last = f"HTTP {status}"
                    delay = retry_after_seconds(response.headers.get("retry-after"))
                else:
                    raise OrusageError(
                        f"GET /activity answered {status} {response.reason_phrase} at {base_url}",
                        "Check --base-url; if it is OpenRouter's, the API may have changed: please report it.",
                    )
            if attempt < max_attempts:
                sleep(min(delay if delay is not None else rng.uniform(0, backoff_base * 2**attempt), 300.0))
    raise OrusageError(
        f"GET /activity gave no usable answer at {base_url} after {max_attempts} attempts ({last})",
        "Run again later.",
    )


def reconcile_fetched(
    lake_root: Path,
    base_url: str,
    key: str,
    key_env: str,
    days: list[date],
    tolerance_usd: float = 1e-6,
    tolerance_pct: float = 0.0,
    **fetch_options,
) -> Result:
    """Reconcile the lake with GET /api/v1/activity over `days` (completed UTC days)."""
    answer = fetch_activity(base_url, key, key_env, **fetch_options)
    where = f"GET {base_url.rstrip('/')}/activity"
    return reconcile([], lake_root, tolerance_usd, tolerance_pct, fetched=[(where, answer)], days=days)
