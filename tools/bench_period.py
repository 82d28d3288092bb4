"""`make bench-period`: the cost of a report follows the period asked, not the history kept.

One run generates three lakes of the same records (tools/bench_lake.py): a year of them (`full`),
only its last 7 days (`last7`) and only its last 90 days (`last90`), kept in `--dir` and reused
by later runs with the same sizes. Then, as ratios measured in this run:

1. `orusage report --since` the last 7 days on `full`, against the same report on `last7`
   (target: at most 1.5x);
2. the scheduled run's page (report.days = 90) on `full`, against `last90` (at most 2x);
3. spend per month by model over all of history from the daily rollup, against the same sums
   over the rows: the query alone, each side's connection and views opened before the clock
   starts (at least 20x faster);
4. the time the ingest of a new day spends keeping the rollup, against the ingest's time (at
   most 5%);
5. the peak RSS of every report process, the all-history report included (under 1 GB).

Each report runs in a process of its own (best of `--repeat`), so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

TARGETS = {"since7_ratio": 1.5, "page_ratio": 2.0, "rollup_speedup": 20.0, "rollup_cost_share": 0.05, "rss_mb": 1024}


def _child(code: str, *args: str) -> tuple[float, float, str]:
    """Run `python -c code args` and return (seconds, peak RSS in MB, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"bench step failed ({proc.returncode}): {err.strip()[-500:]}")
    return seconds, usage.ru_maxrss / 1024, out


REPORT = """
import sys
from pipeline.cli.main import main
sys.argv = ["orusage", "report", "--lake", sys.argv[1], *sys.argv[2:]]
try:
    main()
except SystemExit as exit:
    if exit.code:
        raise
"""

PAGE = """
import sys
from datetime import datetime
from pathlib import Path
from pipeline.ops.config import load_settings
from pipeline.ops.runner import report_since, write_reports
from pipeline.lake.store import Lake
config, as_of = Path(sys.argv[1]), datetime.fromisoformat(sys.argv[2])
settings = load_settings(config)
version = Lake(settings.lake).current_version().name
write_reports(settings.lake, settings, version, report_since(settings, as_of))
"""

INGEST = """
import json, sys, time
from pathlib import Path
from pipeline.lake import rollup
from pipeline.ingest.run import Options, ingest
spent = []
update = rollup.update
def timed(before, version):
    start = time.perf_counter()
    try:
        return update(before, version)
    finally:
        spent.append(time.perf_counter() - start)
rollup.update = timed
start = time.perf_counter()
summary = ingest([Path(sys.argv[2])], Path(sys.argv[1]), Options())
print(json.dumps({"seconds": time.perf_counter() - start, "rollup_seconds": sum(spent), "rows": summary["rows_written"]}))
"""


def best(repeat: int, code: str, *args: str) -> dict:
    runs = [_child(code, *args) for _ in range(repeat)]
    return {"seconds": min(r[0] for r in runs), "rss_mb": max(r[1] for r in runs)}


def ensure_lakes(root: Path, records: int, days: int) -> dict[str, Path]:
    from tools import bench_lake

    lakes = {"full": None, "last7": 7, "last90": 90}
    marker = root / "lakes.json"
    wanted = {"records": records, "days": days, "end": bench_lake.END.isoformat()}
    if marker.exists() and json.loads(marker.read_text()) == wanted and all((root / n / "current").exists() for n in lakes):
        return {name: root / name for name in lakes}
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for name, last in lakes.items():
        start = time.perf_counter()
        n = bench_lake.generate(root / name, records, days, last=last)
        print(f"generated {name}: {n:,} records in {time.perf_counter() - start:.1f} s", flush=True)
    marker.write_text(json.dumps(wanted))
    return {name: root / name for name in lakes}


def monthly_spend(lake: Path, repeat: int) -> dict:
    from pipeline.lake.views import connect
    from pipeline.schema import sqlfiles

    rows_sql = (
        "select strftime(day, '%Y-%m') as month, model, count(*) as requests, sum(total_cost) as total_cost "
        "from generations group by 1, 2 order by 1, 4 desc, 2"
    )
    rollup_sql = sqlfiles.load("rollup_monthly_spend")
    con = connect(lake)  # opened, views bound and each query run once before any clock starts
    try:
        con.execute(rows_sql).fetchall()
        con.execute(rollup_sql).fetchall()
        times = {"rows": [], "rollup": []}
        for _ in range(repeat):
            for side, sql in (("rows", rows_sql), ("rollup", rollup_sql)):
                start = time.perf_counter()
                result = con.execute(sql).fetchall()
                times[side].append(time.perf_counter() - start)
        records, rollup_rows = con.execute("select (select count(*) from generations), count(*) from daily_rollup").fetchone()
    finally:
        con.close()
    rows_s, rollup_s = min(times["rows"]), min(times["rollup"])
    return {
        "rows_seconds": rows_s,
        "rollup_seconds": rollup_s,
        "rollup_speedup": rows_s / rollup_s,
        "groups": len(result),
        "records": records,
        "rollup_rows": rollup_rows,
        "records_per_rollup_row": records / rollup_rows,
    }


def rollup_cost(full: Path, work: Path, per_day: int) -> dict:
    """Ingest one new day's records (JSONL) into a copy of `full` (hard links: cheap)."""
    from tools import bench_lake, synth

    lake = work / "ingest-lake"
    shutil.rmtree(lake, ignore_errors=True)
    subprocess.run(["cp", "-al", str(full), str(lake)], check=True)
    data = work / "new-day.jsonl"
    day = bench_lake.END + timedelta(days=1)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    with data.open("w", encoding="utf-8") as fh:
        for record in synth.iter_records(per_day, seed=17, start=start, days=1):
            fh.write(json.dumps(record, separators=(",", ":")) + "\n")
    _seconds, rss, out = _child(INGEST, str(lake), str(data))
    result = json.loads(out)
    shutil.rmtree(lake, ignore_errors=True)
    return {**result, "rss_mb": rss, "rollup_cost_share": result["rollup_seconds"] / result["seconds"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000, help="records in the year's lake")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--dir", type=Path, default=Path("bench/period"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    from tools import bench_lake

    lakes = ensure_lakes(args.dir, args.records, args.days)
    work = args.dir / "work"
    work.mkdir(exist_ok=True)
    end = bench_lake.END
    since7 = (end - timedelta(days=6)).isoformat()
    as_of = datetime(end.year, end.month, end.day, 23, 0, tzinfo=UTC).isoformat()
    results: dict = {"records": args.records, "days": args.days, "since": since7}

    report = ["--since", since7, "--format", "csv", "--out", str(work / "report.csv")]
    results["since7_full"] = best(args.repeat, REPORT, str(lakes["full"]), *report)
    results["since7_only"] = best(args.repeat, REPORT, str(lakes["last7"]), *report)
    results["since7_ratio"] = results["since7_full"]["seconds"] / results["since7_only"]["seconds"]
    print(
        f"report --since {since7} (7 days): {results['since7_full']['seconds']:.2f} s on the year's lake, "
        f"{results['since7_only']['seconds']:.2f} s on a lake of those 7 days: {results['since7_ratio']:.2f}x "
        f"(target <= {TARGETS['since7_ratio']}x)",
        flush=True,
    )

    pages = {}
    for name in ("full", "last90"):
        config = work / f"{name}.toml"
        config.write_text(
            f'lake = "{lakes[name].resolve()}"\n[report]\ndir = "{(work / name).resolve()}"\nformats = ["html"]\ndays = 90\n'
        )
        pages[name] = best(args.repeat, PAGE, str(config), as_of)
    results["page_full"], results["page_only"] = pages["full"], pages["last90"]
    results["page_ratio"] = pages["full"]["seconds"] / pages["last90"]["seconds"]
    print(
        f"scheduled page (report.days = 90): {pages['full']['seconds']:.2f} s on the year's lake, "
        f"{pages['last90']['seconds']:.2f} s on a lake of those 90 days: {results['page_ratio']:.2f}x "
        f"(target <= {TARGETS['page_ratio']}x)",
        flush=True,
    )

    results["monthly"] = monthly_spend(lakes["full"], max(args.repeat, 3))
    m = results["monthly"]
    results["rollup_speedup"] = m["rollup_speedup"]
    print(
        f"spend per month by model, all history: {m['rows_seconds'] * 1000:.1f} ms from the rows, "
        f"{m['rollup_seconds'] * 1000:.2f} ms from the rollup: {m['rollup_speedup']:.0f}x faster "
        f"(target >= {TARGETS['rollup_speedup']:.0f}x); {m['rollup_rows']:,} rollup rows for {m['records']:,} "
        f"records ({m['records_per_rollup_row']:.0f} records per row)",
        flush=True,
    )

    per_day = max(args.records // args.days, 1000)
    results["ingest"] = rollup_cost(lakes["full"], work, per_day)
    i = results["ingest"]
    results["rollup_cost_share"] = i["rollup_cost_share"]
    print(
        f"ingest of a new day ({i['rows']:,} records) into the year's lake: {i['seconds']:.2f} s, of which keeping "
        f"the rollup {i['rollup_seconds']:.3f} s = {i['rollup_cost_share']:.1%} (target <= {TARGETS['rollup_cost_share']:.0%})",
        flush=True,
    )

    results["all_history"] = best(1, REPORT, str(lakes["full"]), "--format", "csv", "--out", str(work / "all.csv"))
    rss = {
        "report --since 7d": results["since7_full"]["rss_mb"],
        "scheduled page": results["page_full"]["rss_mb"],
        "all-history report": results["all_history"]["rss_mb"],
    }
    results["rss_mb"] = max(rss.values())
    print(
        f"all-history report: {results['all_history']['seconds']:.2f} s; peak RSS "
        + ", ".join(f"{k} {v:,.0f} MB" for k, v in rss.items())
        + f" (target < {TARGETS['rss_mb']:,} MB)",
        flush=True,
    )
    met = {
        "since7_ratio": results["since7_ratio"] <= TARGETS["since7_ratio"],
        "page_ratio": results["page_ratio"] <= TARGETS["page_ratio"],
        "rollup_speedup": results["rollup_speedup"] >= TARGETS["rollup_speedup"],
        "rollup_cost_share": results["rollup_cost_share"] <= TARGETS["rollup_cost_share"],
        "rss_mb": results["rss_mb"] < TARGETS["rss_mb"],
    }
    results["met"] = met
    (args.dir / "last.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print("targets met: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in met.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
