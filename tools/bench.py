"""`make bench`: ingest speed and memory against a raw DuckDB baseline measured in the same run.

The baseline is DuckDB's own typed reader writing Parquet,
`COPY (SELECT * FROM read_json(file, columns={...})) TO 'x.parquet'`, on the same file. It does
less than an ingest (no strict types, no validation, no quarantine, no duplicates, no atomic
publish), so the ratio says what that safety costs. Beside both, the strict JSON parse alone:
the ingest's own parser (native or Arrow's reader, as ORUSAGE_PARSER and the build decide) over
the file's chunks, reading included, so that the run shows how much of the ingest's time that one
step takes. Each measurement runs in its own process so that peak RSS and CPU time are that
step's alone. The ingest's CPU seconds per step come from its summary (`cpu_seconds`), and the
peak RSS of each size measured is kept in `bench/memory.json`, so that a 5M run is set beside the
last 1M run (memory must stay flat as the input grows).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SPEED_RATIO = 1.0  # ingest records/s at least the baseline's
TARGET_RSS_MB = 1024
FLAT_RSS = 1.15  # "flat": peak RSS at 5x the records within 15% of the smaller run's


def _child(kind: str, data: Path, work: Path) -> dict:
    """Runs one measurement in this process and returns its numbers."""
    start = time.perf_counter()
    extra: dict = {}
    if kind == "baseline":
        import duckdb

        from pipeline.schema.table import duckdb_columns

        con = duckdb.connect()
        con.execute(
            "COPY (SELECT * FROM read_json($file, format = 'newline_delimited', columns = $columns)) "
            "TO $out (FORMAT parquet, COMPRESSION zstd)",
            {"file": str(data), "columns": duckdb_columns(), "out": str(work / "baseline.parquet")},
        )
        rows = con.execute("SELECT count(*) FROM read_parquet($p)", {"p": str(work / "baseline.parquet")}).fetchone()[0]
    elif kind == "parse":
        from pipeline.ingest.parse import Parser
        from pipeline.sources.files import iter_chunks

        parser = Parser()  # the parser an ingest would use
        extra["parser"] = parser.kind
        rows = sum(parser.parse_chunk(chunk).num_rows for chunk in iter_chunks(data))
    else:
        from pipeline.ingest.run import ingest

        summary = ingest([data], work / "lake")
        rows = summary["rows_read"]
        extra = {"parser": summary["parser"], "step_cpu_seconds": summary["cpu_seconds"]}
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return {
        "kind": kind,
        "rows": rows,
        "seconds": seconds,
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        "rss_mb": usage.ru_maxrss / 1024,
        **extra,
    }


def measure(kind: str, data: Path, work: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "tools.bench", "--child", kind, "--data", str(data), "--work", str(work)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def memory_by_size(where: Path, records: int, ing: dict) -> dict:
    """Record this run's peak RSS for its size in `where/memory.json` and print it beside the
    other sizes measured (the last run of each)."""
    path = where / "memory.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    known[str(records)] = {"rss_mb": round(ing["rss_mb"], 1), "parser": ing["parser"], "at": time.strftime("%Y-%m-%d %H:%M")}
    path.write_text(json.dumps(known, indent=2) + "\n")
    sizes = sorted(known, key=int)
    line = "; ".join(f"{int(n):,} records {known[n]['rss_mb']:,.0f} MB ({known[n]['parser']}, {known[n]['at']})" for n in sizes)
    print(f"ingest peak RSS by input size: {line}")
    if len(sizes) > 1:
        small, large = known[sizes[0]]["rss_mb"], known[sizes[-1]]["rss_mb"]
        growth = large / small
        print(
            f"memory from {int(sizes[0]):,} to {int(sizes[-1]):,} records: {growth:.2f}x "
            f"{'flat' if growth <= FLAT_RSS else 'NOT FLAT'} (target <= {FLAT_RSS:.2f}x)"
        )
    return known


def ensure_data(path: Path, records: int) -> Path:
    marker = path.with_suffix(".records")
    if path.exists() and marker.exists() and marker.read_text().strip() == str(records):
        return path
    from tools.synth import write_bench

    print(f"generating {records:,} records into {path} (once; reused by later runs)", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bench(path, records)
    marker.write_text(str(records))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("bench"), help="where the data file is kept")
    parser.add_argument("--child", choices=["baseline", "parse", "ingest"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--skip-report", action="store_true", help="only the ingest benchmark")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.data, args.work)))
        return 0

    data = ensure_data(args.dir / f"generations-{args.records}.jsonl", args.records)
    size_mb = data.stat().st_size / 1e6
    work = Path(tempfile.mkdtemp(prefix="orusage-bench-", dir=args.dir))
    try:
        base = measure("baseline", data, work)
        parse = measure("parse", data, work)
        ing = measure("ingest", data, work)
        results = {"records": args.records, "file_mb": round(size_mb, 1), "baseline": base, "parse": parse, "ingest": ing}
        print(f"input: {data} ({args.records:,} records, {size_mb:,.0f} MB)")
        print(f"{'step':<10}{'seconds':>10}{'CPU s':>8}{'records/s':>14}{'MB/s':>10}{'peak RSS MB':>14}")
        for row in (base, parse, ing):
            rps = row["rows"] / row["seconds"]
            print(
                f"{row['kind']:<10}{row['seconds']:>10.2f}{row['cpu_seconds']:>8.1f}{rps:>14,.0f}"
                f"{size_mb / row['seconds']:>10.1f}{row['rss_mb']:>14,.0f}"
            )
        print(
            f"(parse: the ingest's parser alone, {parse['parser']}, reading included; CPU s: all threads)\n"
            f"parser: {ing['parser']}"
            + ("" if ing["parser"] == "native" else " (the native parser is not built: see README, Performance)")
        )
        steps = ing["step_cpu_seconds"]
        print("ingest CPU s by step: " + ", ".join(f"{name} {value:.1f}" for name, value in steps.items()))
        ratio = base["seconds"] / ing["seconds"]
        results["speed_ratio"] = ratio
        results["parse_speed_ratio"] = base["seconds"] / parse["seconds"]
        print(
            f"ingest speed: {ratio:.2f}x the baseline's records/s (target >= {TARGET_SPEED_RATIO}x) "
            f"{'OK' if ratio >= TARGET_SPEED_RATIO else 'BELOW TARGET'}"
        )
        print(f"strict JSON parse alone: {results['parse_speed_ratio']:.2f}x the baseline's records/s")
        print(
            f"ingest peak RSS: {ing['rss_mb']:,.0f} MB (target < {TARGET_RSS_MB} MB) "
            f"{'OK' if ing['rss_mb'] < TARGET_RSS_MB else 'ABOVE TARGET'}"
        )
        results["memory"] = memory_by_size(args.dir, args.records, ing)
        if not args.skip_report:
            try:
                from tools.bench_report import bench_report
            except ImportError:
                bench_report = None
            if bench_report is not None:
                rep = bench_report(work / "lake")
                results["report"] = rep
                print(
                    f"report on the {rep['requests']:,}-record lake: {rep['report_seconds']:.2f} s, raw query "
                    f"{rep['raw_query_seconds']:.2f} s: {rep['report_ratio']:.1f}x (target <= {rep['report_target_ratio']:.0f}x) "
                    f"{'OK' if rep['report_within_target'] else 'ABOVE TARGET'}"
                )
                print(
                    f"exact percentiles alone (three measures, the report's six groupings): "
                    f"{rep['percentiles_seconds']:.2f} s: {rep['percentiles_ratio']:.1f}x the raw query"
                )
                print(
                    f"orusage sql start-up: {rep['sql_startup_seconds']:.2f} s "
                    f"(target < {rep['sql_startup_target_seconds']:.0f} s) "
                    f"{'OK' if rep['sql_startup_within_target'] else 'ABOVE TARGET'}"
                )
        (args.dir / "last.json").write_text(json.dumps(results, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
