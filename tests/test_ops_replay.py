"""`orusage quarantine replay`: rows that now pass move into the lake once and only once; the
rest stay with their reasons; every row read is still in exactly one place."""

from __future__ import annotations

import json
import os

import pyarrow.parquet as pq
from click.testing import CliRunner

from conftest import ingest, lake_rows, quarantine_rows, record, write_jsonl
from pipeline.cli.main import main
from pipeline.schema.table import lake_arrow_schema


def replay(lake, *args):
    out = CliRunner().invoke(main, ["quarantine", "--lake", str(lake), "replay", *args, "--json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


def test_replay_moves_rows_once_and_only_once(tmp_path):
    lake = tmp_path / "lake"
    rows = [record(i, beta_feature=i) if i % 4 == 0 else record(i) for i in range(20)]  # 5 with an unknown key
    rows += [
        record(100, total_cost="0.5"),  # line 21: still bad under any contract
        "{not json",  # line 22
        record(1, total_cost=9.99, usage=9.99),  # line 23: another content under a kept id
    ]
    data = write_jsonl(tmp_path / "export.jsonl", rows)
    with open(data, "ab") as fh:
        fh.write(b'{"id": "\xff"}\n')  # line 24: not UTF-8
    first = ingest([data], lake, schema_contract="freeze")
    assert (first["rows_read"], first["rows_written"], first["rows_quarantined"], first["rows_duplicate"]) == (24, 15, 9, 0)
    # The same file again with --force: its 9 bad lines are quarantined a second time.
    second = ingest([data], lake, schema_contract="freeze", force=True)
    assert (second["rows_written"], second["rows_quarantined"], second["rows_duplicate"]) == (0, 9, 15)
    read_by_ingests = first["rows_read"] + second["rows_read"]
    duplicates = first["rows_duplicate"] + second["rows_duplicate"]
    assert quarantine_rows(lake).height == 18

    # Under `freeze` nothing new passes: nothing published (the conflict's reason is refreshed).
    current = os.readlink(lake / "current")
    same = replay(lake, "--schema-contract", "freeze")
    assert (same["rows_written"], same["rows_duplicate"], same["rows_quarantined"]) == (0, 0, 16)
    assert same["rows_kept_unreplayable"] == 2
    # Only the conflict's reason changed: the copy it conflicts with is now in the lake, kept by
    # the first run (the first run saw it kept earlier in the same run).
    assert (same["rows_reasons_changed"], same["published"]) == (1, True)
    conflict = quarantine_rows(lake).filter(quarantine_rows(lake)["source_line"] == 23)["reasons"].to_list()
    assert conflict[0] == conflict[1] and f"(run {first['run_id']})" in conflict[0][0]
    assert os.readlink(lake / "current") != current

    moved = replay(lake, "--schema-contract", "evolve")
    # 5 lines replayed once each are written; their 5 copies (the --force run) are duplicates.
    assert (moved["rows_read"], moved["rows_written"], moved["rows_duplicate"], moved["rows_quarantined"]) == (16, 5, 5, 6)
    assert (moved["quarantine_before"], moved["quarantine_after"]) == (18, 8)
    assert moved["warnings"] == [{"kind": "extra_key", "field": "_extra", "value": "beta_feature", "rows": 5}]
    lake_now = lake_rows(lake)
    assert lake_now.height == 20 and lake_now["id"].n_unique() == 20
    replayed = lake_now.filter(lake_now["_run_id"] == moved["run_id"])
    assert sorted(replayed["_source_line"].to_list()) == [1, 5, 9, 13, 17]
    assert set(replayed["_source_file"].to_list()) == {str(data.resolve())}
    assert json.loads(replayed["_extra"][0]) == {"beta_feature": json.loads(replayed["_extra"][0])["beta_feature"]}
    for path in (lake / "generations").glob("date=*/*.parquet"):
        assert pq.read_schema(path).remove_metadata().equals(lake_arrow_schema())

    left = quarantine_rows(lake)
    assert left.height == 8
    by_line = {}
    for row in left.iter_rows(named=True):
        by_line.setdefault(row["source_line"], []).append(row)
    assert sorted(by_line) == [21, 22, 23, 24] and all(len(v) == 2 for v in by_line.values())
    assert by_line[21][0]["reasons"] == ["total_cost: expected number, got string"]
    assert by_line[22][0]["reasons"] == ["line: not valid JSON"]
    assert by_line[23][0]["reasons"][0].startswith("id: conflicting duplicate, other content than the record kept from ")
    assert by_line[24][0]["reasons"] == ["line: not valid UTF-8"]
    # The rows that stay keep the run that read them.
    assert sorted({r["run_id"] for rows in by_line.values() for r in rows}) == sorted({first["run_id"], second["run_id"]})

    # Conservation across all runs: lake + quarantine + duplicates = rows read by the ingests.
    duplicates += moved["rows_duplicate"]
    assert lake_now.height + left.height + duplicates == read_by_ingests

    # Once and only once: a second replay moves nothing and publishes nothing.
    current = os.readlink(lake / "current")
    again = replay(lake, "--schema-contract", "evolve")
    assert (again["rows_written"], again["rows_duplicate"], again["published"]) == (0, 0, False)
    assert os.readlink(lake / "current") == current
    assert lake_rows(lake).height == 20 and quarantine_rows(lake).height == 8
    summary = json.loads((lake / "_runs" / f"{moved['run_id']}.json").read_text())
    assert (summary["command"], summary["rows_written"]) == ("replay", 5)


def test_replay_one_run_and_human_output(tmp_path):
    lake = tmp_path / "lake"
    a = ingest([write_jsonl(tmp_path / "a.jsonl", [record(1, beta=1), record(2)])], lake, schema_contract="freeze")
    b = ingest([write_jsonl(tmp_path / "b.jsonl", [record(3, beta=1), record(4)])], lake, schema_contract="freeze")
    assert a["rows_quarantined"] == b["rows_quarantined"] == 1
    out = CliRunner().invoke(main, ["quarantine", "replay", "--lake", str(lake), "--run", a["run_id"]])
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith(
        "replayed 1 rows: 1 written, 0 duplicate, 0 still quarantined\nquarantine 2 -> 1 rows; published version "
    )
    left = quarantine_rows(lake)
    assert left["run_id"].to_list() == [b["run_id"]]
    assert sorted(lake_rows(lake)["id"].to_list()) == sorted(record(i)["id"] for i in (1, 2, 4))
    missing = CliRunner().invoke(main, ["quarantine", "--lake", str(lake), "replay", "--run", "19990101"])
    assert missing.exit_code == 1
    assert (
        missing.stderr
        == "Error: no quarantined row belongs to a run starting with '19990101'. List the runs with `orusage quarantine`.\n"
    )


def test_replay_under_a_fixed_field_table(tmp_path):
    """After a schema fix (here: `total_cost` may be negative) the rows that failed only that
    rule pass, through the same validation code."""
    import dataclasses

    from pipeline.ingest.replay import replay as replay_lib
    from pipeline.schema.table import load_table

    lake = tmp_path / "lake"
    ingest([write_jsonl(tmp_path / "refunds.jsonl", [record(1), record(2, total_cost=-0.5, usage=-0.5)])], lake)
    assert quarantine_rows(lake)["reasons"].to_list() == [
        ["total_cost: must be >= 0 (got -0.5)", "usage: must be >= 0 (got -0.5)"]
    ]
    table = load_table()
    relaxed = dataclasses.replace(
        table,
        fields=tuple(
            dataclasses.replace(f, checks=tuple(c for c in f.checks if c != "ge0")) if f.name in ("total_cost", "usage") else f
            for f in table.fields
        ),
    )
    result = replay_lib(lake, table=relaxed)
    assert (result["rows_written"], result["quarantine_after"]) == (1, 0)
    assert lake_rows(lake).filter(lake_rows(lake)["id"] == record(2)["id"])["total_cost"].to_list() == [-0.5]
