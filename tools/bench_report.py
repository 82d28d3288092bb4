"""Report speed for `make bench`: the default report beside one raw DuckDB query, same run.

    bench_report(lake) -> dict   (also: python -m tools.bench_report LAKE, prints JSON)

- raw query: `sql/bench_baseline.sql`, count, sums and three latency quantiles by model x
  provider x region x app, straight over the Parquet files (a fresh connection, no views);
- report: `run_report(lake, ReportOptions())`, the default report (four dimensions together
  and each alone, plus the overview), end to end: views, query, result in Python;
- percentiles alone: `sql/bench_percentiles.sql`, only the exact percentiles of the default
  report (three measures, six groupings), to show how much of the report's time they take;
- `orusage sql` start-up: a new process running `select 1`, as a user types it.

Each is timed `repeats` times after one warm-up run and the fastest run counts, so both sides
read the files from the page cache. Targets: report <= 3x the raw query; sql start-up < 1 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from pipeline.lake import views
from pipeline.schema import sqlfiles

REPORT_TARGET_RATIO = 3.0
SQL_STARTUP_TARGET_S = 1.0


def _best(fn, repeats: int) -> float:
    fn()  # warm-up: page cache, imports, the views database
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_report(lake_root: Path, repeats: int = 3) -> dict:
    """Time the default report and the raw baseline query on the lake at `lake_root`."""
    from pipeline.query.report import ReportOptions, run_report

    lake_root = Path(lake_root)
    views.refresh_views(lake_root)  # as every ingest does
    raw_sql = sqlfiles.load("bench_baseline")
    percentiles_sql = sqlfiles.load("bench_percentiles")

    def plain(sql: str) -> int:
        con = duckdb.connect(config={"file_search_path": str(lake_root.resolve())})
        try:
            return len(con.sql(sql).fetchall())
        finally:
            con.close()

    report_rows = {}

    def report() -> None:
        result = run_report(lake_root, ReportOptions())
        report_rows["rows"] = len(result.rows)
        report_rows["requests"] = result.total["requests"] if result.total else 0

    def sql_startup() -> None:
        out = subprocess.run(
            [sys.executable, "-m", "pipeline", "sql", "select 1 as one", "--lake", str(lake_root), "--format", "csv"],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"orusage sql failed: {out.stderr.strip()}")

    # Interleave so that a busy machine slows every side alike.
    steps = {"raw": lambda: plain(raw_sql), "report": report, "percentiles": lambda: plain(percentiles_sql)}
    best = dict.fromkeys(steps, float("inf"))
    for step in steps.values():
        step()  # warm-up
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            best[name] = min(best[name], time.perf_counter() - start)
    raw_s, report_s, percentiles_s = best["raw"], best["report"], best["percentiles"]
    startup_s = _best(sql_startup, repeats)
    ratio = report_s / raw_s if raw_s > 0 else float("inf")
    return {
        "lake": str(lake_root),
        "requests": report_rows.get("requests", 0),
        "report_rows": report_rows.get("rows", 0),
        # Times and ratios as measured: rounding is for the printed lines only, so a ratio
        # recomputed from the recorded times is the recorded ratio.
        "raw_query_seconds": raw_s,
        "report_seconds": report_s,
        "report_ratio": ratio,
        "percentiles_seconds": percentiles_s,
        "percentiles_ratio": percentiles_s / raw_s if raw_s > 0 else float("inf"),
        "report_target_ratio": REPORT_TARGET_RATIO,
        "report_within_target": ratio <= REPORT_TARGET_RATIO,
        "sql_startup_seconds": startup_s,
        "sql_startup_target_seconds": SQL_STARTUP_TARGET_S,
        "sql_startup_within_target": startup_s < SQL_STARTUP_TARGET_S,
        "repeats": repeats,
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m tools.bench_report LAKE [REPEATS]", file=sys.stderr)
        return 2
    result = bench_report(Path(args[0]), int(args[1]) if len(args) > 1 else 3)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
