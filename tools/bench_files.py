"""`make bench-period`, last step: what the number of files costs a report over years of small days.

One run generates (tools/bench_lake.py: the realistic generator, the ingest's writer, one file
per UTC day, published by `Lake.transaction` with its daily rollup) a lake of `--days` days of
about `--per-day` records each (`daily`: three years of 1,000 records a day open about 1,100
files), and the same records in a few files: a copy of it on which `orusage compact
--months-older-than` merged every month that ended more than 31 days before the lake's last day
into one file per month (`monthly`: the last month or two stay daily, as they would on a lake
compacted by a weekly job). Both are kept in `--dir` and reused by later runs with the same sizes.

Then, each in a process of its own (best of `--repeat` for the time and the CPU seconds of all
its threads, which move less than the time on a shared machine; peak RSS the largest):

1. `orusage report` over all of history on each lake, and the ratio;
2. `orusage report --since` the last 30 days on each, and the ratio;

with the files each report's period covers (the files DuckDB opens: every generation file for
all of history; for the month, that month's daily files and the merged months it overlaps).

    python -m tools.bench_files                          # 3 years x 1,000 records a day
    python -m tools.bench_files --days 365 --per-day 300 --dir bench/files-small
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tools.bench_period import REPORT  # the report in a process of its own

ROOT = Path(__file__).resolve().parents[1]
KEEP_DAILY_DAYS = 31  # months that ended within this many days of the lake's last day stay daily
SINCE_DAYS = 30


def _child(*args: str) -> tuple[float, float, float]:
    """Run `python args` from the repository; return (seconds, CPU seconds of all its threads,
    peak RSS in MB)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read()
    proc.stdout.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench step failed: {' '.join(args[:3])}: {err.strip()[-500:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def best(repeat: int, *args: str) -> dict:
    runs = [_child(*args) for _ in range(repeat)]
    return {"seconds": min(r[0] for r in runs), "cpu_seconds": min(r[1] for r in runs), "rss_mb": max(r[2] for r in runs)}


def ensure_lakes(root: Path, days: int, per_day: int) -> dict[str, Path]:
    """The `daily` and `monthly` lakes of the same records under `root`, generated when missing."""
    from tools import bench_lake

    lakes = {"daily": root / "daily", "monthly": root / "monthly"}
    marker = root / "lakes.json"
    wanted = {"days": days, "per_day": per_day, "end": bench_lake.END.isoformat(), "keep_daily_days": KEEP_DAILY_DAYS}
    if marker.exists() and json.loads(marker.read_text()) == wanted and all((p / "current").exists() for p in lakes.values()):
        return lakes
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    start = time.perf_counter()
    records = days * per_day
    subprocess.run(
        [sys.executable, "-m", "tools.bench_lake", str(lakes["daily"].resolve()), "--records", str(records), "--days", str(days)],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    print(f"generated the daily lake ({records:,} records, {days:,} days) in {time.perf_counter() - start:.1f} s", flush=True)
    # The same records in a few files: a copy (hard links; compaction never rewrites a file in
    # place) whose months that ended 31 days before the lake's last day are merged by compact.
    subprocess.run(["cp", "-al", str(lakes["daily"]), str(lakes["monthly"])], check=True)
    older_than = (datetime.now(UTC).date() - bench_lake.END).days + KEEP_DAILY_DAYS
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "compact",
            "--lake",
            str(lakes["monthly"].resolve()),
            "--months-older-than",
            f"{older_than}d",
        ],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    print(
        f"merged its old months (orusage compact --months-older-than {older_than}d) in {time.perf_counter() - start:.1f} s",
        flush=True,
    )
    marker.write_text(json.dumps(wanted))
    return lakes


def files_in(lake: Path, first: date | None = None) -> int:
    """The generation files a report of the days from `first` (None: all of history) opens."""
    from pipeline.lake import layout

    version = layout.current_version(lake)
    count = 0
    for day, directory in layout.partition_dirs(version).items():
        if first is None or date.fromisoformat(day) >= first:
            count += len(list(directory.glob("*.parquet")))
    for month, directory in layout.month_dirs(version).items():
        if first is None or month >= first.strftime("%Y-%m"):
            count += len(list(directory.glob("*.parquet")))
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3 * 365 + 1, help="days of the lake (default: three years)")
    parser.add_argument("--per-day", type=int, default=1000, help="records per day, on average")
    parser.add_argument("--dir", type=Path, default=Path("bench/files"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    from tools import bench_lake

    lakes = ensure_lakes(args.dir, args.days, args.per_day)
    work = args.dir / "work"
    work.mkdir(exist_ok=True)
    since = bench_lake.END - timedelta(days=SINCE_DAYS - 1)
    results: dict = {"days": args.days, "per_day": args.per_day, "records": args.days * args.per_day}
    results["files"] = {name: files_in(lake) for name, lake in lakes.items()}
    results["files_since"] = {name: files_in(lake, since) for name, lake in lakes.items()}
    for label, extra in (("all", []), ("since", ["--since", since.isoformat()])):
        for name, lake in lakes.items():
            out = work / f"{label}-{name}.csv"
            results[f"{label}_{name}"] = best(
                args.repeat, "-c", REPORT, str(lake.resolve()), *extra, "--format", "csv", "--out", str(out)
            )
        results[f"{label}_ratio"] = results[f"{label}_daily"]["seconds"] / results[f"{label}_monthly"]["seconds"]
        what = "all of history" if label == "all" else f"--since {since} ({SINCE_DAYS} days)"
        files = results["files"] if label == "all" else results["files_since"]
        daily, monthly = results[f"{label}_daily"], results[f"{label}_monthly"]
        results[f"{label}_cpu_ratio"] = daily["cpu_seconds"] / monthly["cpu_seconds"]
        print(
            f"report over {what}: {daily['seconds']:.2f} s ({daily['cpu_seconds']:.2f} CPU s) on the daily lake "
            f"({files['daily']:,} files, peak RSS {daily['rss_mb']:,.0f} MB), {monthly['seconds']:.2f} s "
            f"({monthly['cpu_seconds']:.2f} CPU s) with old months merged ({files['monthly']:,} files, peak RSS "
            f"{monthly['rss_mb']:,.0f} MB): {results[f'{label}_ratio']:.2f}x the time, "
            f"{results[f'{label}_cpu_ratio']:.2f}x the CPU",
            flush=True,
        )
    (args.dir / "last.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
