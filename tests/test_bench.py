"""`make bench` end to end on a small generated file: every step runs in its own process, reads
every record, and the printed ratios are the ones computed from the recorded times."""

from __future__ import annotations

import json
from pathlib import Path

from tools import bench


def test_bench_runs_every_step_on_the_same_records(tmp_path: Path, capsys):
    assert bench.main(["--records", "2000", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "last.json").read_text())

    for kind in ("baseline", "parse", "ingest"):
        step = results[kind]
        assert step["rows"] == 2000, kind
        assert step["seconds"] > 0 and step["cpu_seconds"] > 0 and step["rss_mb"] > 0, kind
        assert any(line.split()[:1] == [kind] for line in out.splitlines()), kind

    # The recorded ratios are the recorded times' ratios, not ones rebuilt from rounded numbers.
    assert results["speed_ratio"] == results["baseline"]["seconds"] / results["ingest"]["seconds"]
    assert results["parse_speed_ratio"] == results["baseline"]["seconds"] / results["parse"]["seconds"]
    assert f"ingest speed: {results['speed_ratio']:.2f}x" in out
    assert f"strict JSON parse alone: {results['parse_speed_ratio']:.2f}x" in out
    # Which parser ran, and the ingest's CPU seconds by step, as its summary gave them.
    assert f"parser: {results['ingest']['parser']}" in out
    assert results["parse"]["parser"] == results["ingest"]["parser"]
    steps = results["ingest"]["step_cpu_seconds"]
    assert "ingest CPU s by step: " + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()) in out
    assert set(steps) == {"read", "hash", "parse", "validate", "write", "duplicates", "other"}
    # Peak RSS is kept by input size, so that runs of two sizes are set side by side.
    memory = json.loads((tmp_path / "memory.json").read_text())
    assert memory["2000"]["rss_mb"] == round(results["ingest"]["rss_mb"], 1)
    assert "ingest peak RSS by input size: 2,000 records" in out
    assert results["report"]["requests"] == 2000
    report = results["report"]
    assert report["percentiles_ratio"] == report["percentiles_seconds"] / report["raw_query_seconds"]
    assert report["report_ratio"] == report["report_seconds"] / report["raw_query_seconds"]
    assert f"{report['percentiles_seconds']:.2f} s: {report['percentiles_ratio']:.1f}x the raw query" in out
    assert "orusage sql start-up:" in out
    # The data file is kept for the next run; the work directory is not.
    assert (tmp_path / "generations-2000.jsonl").exists()
    assert not list(tmp_path.glob("orusage-bench-*"))


def test_memory_is_set_beside_the_other_sizes_measured(tmp_path: Path, capsys):
    bench.memory_by_size(tmp_path, 1_000_000, {"rss_mb": 800.0, "parser": "native"})
    bench.memory_by_size(tmp_path, 5_000_000, {"rss_mb": 960.0, "parser": "native"})
    assert "memory from 1,000,000 to 5,000,000 records: 1.20x NOT FLAT (target <= 1.15x)" in capsys.readouterr().out
    bench.memory_by_size(tmp_path, 5_000_000, {"rss_mb": 840.0, "parser": "native"})  # the last run of a size counts
    assert "memory from 1,000,000 to 5,000,000 records: 1.05x flat" in capsys.readouterr().out
