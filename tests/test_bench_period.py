"""`make bench-period` end to end on tiny lakes: every measurement runs, and the printed ratios
are the ones computed from the recorded times."""

from __future__ import annotations

import json
from pathlib import Path

from tools import bench_period


def test_bench_period_measures_every_target_on_the_same_lakes(tmp_path: Path, capsys):
    assert bench_period.main(["--records", "6000", "--days", "20", "--dir", str(tmp_path), "--repeat", "2"]) == 0
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "last.json").read_text())
    assert results["since7_ratio"] == results["since7_full"]["seconds"] / results["since7_only"]["seconds"]
    assert results["page_ratio"] == results["page_full"]["seconds"] / results["page_only"]["seconds"]
    monthly = results["monthly"]
    assert monthly["rollup_speedup"] == monthly["rows_seconds"] / monthly["rollup_seconds"]
    assert monthly["records"] == 6000 and 0 < monthly["rollup_rows"] < 6000
    ingest = results["ingest"]
    assert ingest["rows"] == 1000 and ingest["rollup_cost_share"] == ingest["rollup_seconds"] / ingest["seconds"]
    assert 0 < ingest["rollup_seconds"] < ingest["seconds"]
    # the best of the runs, each into its own copy of the lake
    assert len(ingest["runs"]) == 2 and all(r["rows"] == 1000 for r in ingest["runs"])
    assert ingest["seconds"] == min(r["seconds"] for r in ingest["runs"])
    assert ingest["rollup_seconds"] == min(r["rollup_seconds"] for r in ingest["runs"])
    assert results["rss_mb"] == max(results[k]["rss_mb"] for k in ("since7_full", "page_full", "all_history"))
    assert f"{results['since7_ratio']:.2f}x (target <= 1.5x)" in out
    assert f"{results['page_ratio']:.2f}x (target <= 2.0x)" in out
    assert f"= {ingest['rollup_cost_share']:.1%} (target <= 5%; best of 2 runs" in out
    assert results["rss_growth"] == results["all_history"]["rss_mb"] / results["all_history_90d"]["rss_mb"]
    assert f"every report ran under DuckDB's memory_limit of {results['memory_limit']}" in out
    assert f"({results['rss_growth']:.2f}x for 0.006M records" in out
    assert set(results["met"]) == {"since7_ratio", "page_ratio", "rollup_speedup", "rollup_cost_share", "rss_mb"}
    # The lakes are kept for the next run and reused when the sizes match.
    marker = (tmp_path / "lakes.json").stat().st_mtime_ns
    assert bench_period.ensure_lakes(tmp_path, 6000, 20)["full"] == tmp_path / "full"
    assert (tmp_path / "lakes.json").stat().st_mtime_ns == marker
