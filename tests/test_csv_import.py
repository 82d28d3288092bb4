"""The dashboard's per-generation CSV export: recognised by its header, columns by name, the same
validation, quarantine and duplicate rules as JSONL, physical line numbers, CSV text as raw."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, ingest, lake_rows, quarantine_rows, record, write_jsonl
from pipeline.errors import InputError
from pipeline.ingest.parse import Parser
from pipeline.sources.csv_import import CSV_FIELDS, is_dashboard_csv, iter_csv_chunks
from pipeline.sources.files import discover, iter_chunks

# The header seen in 2026 (reference: openrouter-data.md).
HEADER = [
    "generation_id",
    "created_at",
    "cost_total",
    "cost_web_search",
    "cost_cache",
    "cost_file_processing",
    "byok_usage_inference",
    "tokens_prompt",
    "tokens_completion",
    "tokens_reasoning",
    "tokens_cached",
    "model_permaslug",
    "provider_name",
    "variant",
    "cancelled",
    "streamed",
    "user",
    "finish_reason_raw",
    "finish_reason_normalized",
    "generation_time_ms",
    "time_to_first_token_ms",
    "api_key_disabled",
    "api_key_name",
    "app_name",
]


def _b(v) -> str:
    return "" if v is None else ("true" if v else "false")


def _n(v) -> str:
    return "" if v is None else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))


def csv_row(rec: dict, **cells) -> dict:
    """The dashboard's row for a record (as the export writes it), cells overridden by name."""
    attempts = rec.get("provider_responses") or []
    created = datetime.fromisoformat(rec["created_at"]).astimezone(UTC)
    row = {
        "generation_id": rec["id"],
        "created_at": created.strftime("%Y-%m-%d %H:%M:%S.") + f"{created.microsecond // 1000:03d}",
        "cost_total": _n(rec["total_cost"]),
        "cost_web_search": "0",
        "cost_cache": "0",
        "cost_file_processing": "0",
        "byok_usage_inference": _n(rec["upstream_inference_cost"]) if rec["is_byok"] else "0",
        "tokens_prompt": _n(rec["native_tokens_prompt"]),
        "tokens_completion": _n(rec["native_tokens_completion"]),
        "tokens_reasoning": _n(rec["native_tokens_reasoning"]),
        "tokens_cached": _n(rec["native_tokens_cached"]),
        "model_permaslug": attempts[-1]["model_permaslug"] if attempts else rec["model"],
        "provider_name": rec["provider_name"] or "",
        "variant": "standard",
        "cancelled": _b(rec["cancelled"]),
        "streamed": _b(rec["streamed"]),
        "user": rec["external_user"] or "",
        "finish_reason_raw": rec["native_finish_reason"] or "",
        "finish_reason_normalized": rec["finish_reason"] or "",
        "generation_time_ms": _n(rec["generation_time"]),
        "time_to_first_token_ms": _n(rec["latency"]),
        "api_key_disabled": "false",
        "api_key_name": "prod key",
        "app_name": "My App",
    }
    row.update(cells)
    return row


def write_csv(path: Path, rows: list[dict], header: list[str] = HEADER, newline: str = "\r\n") -> Path:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator=newline, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue().encode("utf-8"))
    return path


def _by_id(frame) -> dict:
    return {row["id"]: row for row in frame.iter_rows(named=True)}


# --- recognition -------------------------------------------------------------------------------


def test_recognised_by_header_not_by_name(tmp_path, lake):
    path = write_csv(tmp_path / "whatever-i-saved.csv", [csv_row(record(1))])
    assert is_dashboard_csv(path)
    other = tmp_path / "openrouter_activity_2026-09-01.csv"
    other.write_text("date,model,usage\n2026-09-01,x,1\n")
    assert not is_dashboard_csv(other)
    with pytest.raises(InputError, match="not an OpenRouter dashboard export"):
        discover([other])
    # In a directory, a CSV that is not an export is left out like any other file.
    assert discover([tmp_path]) == [path]
    summary = ingest([tmp_path], lake)
    assert summary["files"] == 1 and summary["rows_written"] == 1


def test_missing_required_column_is_a_clear_error(tmp_path, lake):
    header = [h for h in HEADER if h != "model_permaslug"]
    path = write_csv(tmp_path / "export.csv", [csv_row(record(1))], header=header)
    with pytest.raises(InputError, match="lacks model_permaslug"):
        ingest([path], lake)


def test_cli_names_a_csv_that_is_not_an_export(tmp_path):
    from click.testing import CliRunner

    from pipeline.cli.main import main

    path = tmp_path / "budget.csv"
    path.write_text("month,amount\n2026-09,12\n")
    result = CliRunner().invoke(main, ["ingest", str(path), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 1
    assert result.output.strip().startswith(f"Error: {path}: is a CSV file but not an OpenRouter dashboard export")


# --- the mapping -------------------------------------------------------------------------------


def test_columns_by_name_in_any_order_and_the_mapping(tmp_path, lake):
    rec = record(1, is_byok=False, upstream_inference_cost=None, external_user="user-9", latency=350.0)
    byok = record(2, is_byok=True, total_cost=0.0, usage=0.0, upstream_inference_cost=0.0421)
    refund = record(3, is_byok=True, total_cost=0.0, usage=0.0, upstream_inference_cost=-0.5)
    # Shifted columns: another order, a column the mapping does not know, one column missing.
    header = list(reversed(HEADER))
    header.remove("cost_file_processing")
    header.insert(5, "new_column_2027")
    rows = [csv_row(r, new_column_2027=f"v{i}") for i, r in enumerate([rec, byok, refund])]
    path = write_csv(tmp_path / "openrouter_activity_2026-09-02.csv", rows, header=header)
    summary = ingest([path], lake)
    assert summary["rows_written"] == 3 and summary["rows_quarantined"] == 0
    got = _by_id(lake_rows(lake))
    a = got[rec["id"]]
    assert a["model"] == "anthropic/claude-4.5-sonnet-20250929"  # the permaslug: the CSV has no slug
    assert a["created_at"] == datetime(2026, 9, 2, 10, 1, 0, 123000, tzinfo=UTC)
    assert a["total_cost"] == a["usage"] == 0.0123
    assert (a["native_tokens_prompt"], a["native_tokens_completion"]) == (110, 55)
    assert (a["native_tokens_reasoning"], a["native_tokens_cached"]) == (10, 20)
    assert a["tokens_prompt"] is None and a["tokens_completion"] is None  # normalized counts: not in the CSV
    assert a["provider_name"] == "Anthropic"
    assert a["cancelled"] is False and a["streamed"] is True
    assert a["external_user"] == "user-9"
    assert (a["finish_reason"], a["native_finish_reason"]) == ("stop", "end_turn")
    assert (a["generation_time"], a["latency"]) == (1200.0, 350.0)
    assert a["origin"] == ""
    assert a["is_byok"] is False and a["upstream_inference_cost"] is None
    assert a["provider_responses"] is None and a["data_region"] is None
    assert json.loads(a["_extra"]) == {
        "app_name": "My App",
        "api_key_name": "prod key",
        "api_key_disabled": "false",
        "new_column_2027": "v0",
        "variant": "standard",
        "cost_cache": "0",
        "cost_web_search": "0",
    }
    assert a["_source_line"] == 2 and a["_source_file"] == str(path.resolve())
    b, c = got[byok["id"]], got[refund["id"]]
    assert b["is_byok"] is True and b["upstream_inference_cost"] == 0.0421 and b["total_cost"] == 0.0
    assert c["is_byok"] is True and c["upstream_inference_cost"] == -0.5  # a BYOK refund


def test_an_is_byok_column_wins_and_empty_cells_are_null(tmp_path, lake):
    rec = record(1, is_byok=True, total_cost=0.0, usage=0.0, upstream_inference_cost=0.0)
    header = [*HEADER, "is_byok"]
    row = csv_row(rec, is_byok="true", user="", finish_reason_raw="", tokens_cached="")
    path = write_csv(tmp_path / "e.csv", [row], header=header)
    ingest([path], lake)
    got = lake_rows(lake).row(0, named=True)
    assert got["is_byok"] is True and got["upstream_inference_cost"] == 0.0
    assert got["external_user"] is None and got["native_finish_reason"] is None and got["native_tokens_cached"] is None


def test_an_unmapped_column_named_like_a_field_keeps_a_prefix(tmp_path, lake):
    header = [*HEADER, "app_id"]
    path = write_csv(tmp_path / "e.csv", [csv_row(record(1), app_id="777")], header=header)
    ingest([path], lake)
    got = lake_rows(lake).row(0, named=True)
    assert got["app_id"] is None and json.loads(got["_extra"])["csv:app_id"] == "777"


def test_docs_list_the_mapping():
    text = (ROOT / "docs" / "csv-import.md").read_text()
    rows = re.findall(r"^\| `([a-z_]+)` \| `([a-z_]+)` \|", text, flags=re.MULTILINE)
    assert rows == [(f.column, f.field) for f in CSV_FIELDS]


# --- quarantine: same contract, CSV text kept -------------------------------------------------


def test_bad_values_multiline_fields_and_a_truncated_line_are_quarantined_with_csv_text(tmp_path, lake):
    rows = [
        csv_row(record(1)),  # line 2
        csv_row(record(2), cancelled="maybe", app_name="two\nline app"),  # lines 3-4
        csv_row(record(3), cost_total="n/a"),  # line 5
        csv_row(record(4), tokens_prompt="12.5"),  # line 6
        csv_row(record(5), created_at="yesterday"),  # line 7
        csv_row(record(6), generation_id=""),  # line 8
        csv_row(record(7), api_key_name='say "hi",\nthen\nleave'),  # lines 9-11
    ]
    path = write_csv(tmp_path / "export.csv", rows, newline="\n")
    with open(path, "ab") as fh:
        fh.write(b"\n")  # line 12: an empty line
        fh.write(b"gen-1767225600-00000000000000000099,2026-09-05 10:00:00.000,0.1\n")  # line 13: truncated
    summary = ingest([path], lake)
    assert (summary["rows_read"], summary["rows_written"], summary["rows_quarantined"]) == (8, 2, 6)
    kept = lake_rows(lake).sort("_source_line")
    assert kept["_source_line"].to_list() == [2, 9]
    assert json.loads(kept["_extra"][1])["api_key_name"] == 'say "hi",\nthen\nleave'
    q = quarantine_rows(lake)
    assert q["source_line"].to_list() == [3, 5, 6, 7, 8, 13]
    reasons = [r.to_list() for r in q["reasons"]]
    assert reasons[0] == ["cancelled: expected boolean, got string"]
    assert reasons[1] == ["total_cost: expected number, got string", "usage: expected number, got string"]
    assert reasons[2] == ["native_tokens_prompt: expected integer, got 12.5"]
    assert reasons[3] == ['created_at: not an ISO 8601 instant: "yesterday"']
    assert reasons[4] == ["id: must not be null"]
    assert reasons[5] == ["line: expected a JSON object, got array"]
    raw = path.read_text().split("\n")
    assert q["raw"][0] == raw[2] + "\n" + raw[3]  # the CSV record itself, both of its lines
    assert q["raw"][1] == raw[4]
    assert q["raw"][5] == raw[12]


def test_invalid_utf8_row_is_quarantined_with_its_csv_text(tmp_path, lake):
    path = write_csv(tmp_path / "export.csv", [csv_row(record(1)), csv_row(record(2), app_name="AP"), csv_row(record(3))])
    data = path.read_bytes().replace(b",AP\r\n", b",A\xffP\r\n")
    path.write_bytes(data)
    summary = ingest([path], lake)
    assert summary["rows_written"] == 2 and summary["rows_quarantined"] == 1
    q = quarantine_rows(lake)
    assert q["source_line"].to_list() == [3] and q["reasons"][0].to_list() == ["line: not valid UTF-8"]
    assert q["raw"][0].startswith(record(2)["id"] + ",") and q["raw"][0].endswith("A\ufffdP")


def test_unbalanced_quote_at_the_end_is_quarantined(tmp_path, lake):
    path = write_csv(tmp_path / "export.csv", [csv_row(record(1))], newline="\n")
    with open(path, "a") as fh:
        fh.write('gen-x,2026-09-01 00:00:00.000,"0.1\nmore\n')
    summary = ingest([path], lake)
    assert summary["rows_written"] == 1 and summary["rows_quarantined"] == 1
    q = quarantine_rows(lake)
    assert q["source_line"].to_list() == [3] and q["raw"][0] == 'gen-x,2026-09-01 00:00:00.000,"0.1\nmore'


def test_freeze_contract_treats_the_unmapped_columns_as_unknown_keys(tmp_path, lake):
    path = write_csv(tmp_path / "export.csv", [csv_row(record(1))])
    summary = ingest([path], lake, schema_contract="freeze")
    assert summary["rows_quarantined"] == 1
    assert "variant: unknown key (schema contract is freeze)" in quarantine_rows(lake)["reasons"][0].to_list()


# --- line numbers across chunks, compressed input ----------------------------------------------


def test_line_numbers_hold_across_small_chunks_and_gzip(tmp_path):
    rows = []
    for i in range(120):
        cells = {"api_key_name": "multi\nline\nname" if i % 7 == 0 else f"k{i}", "app_name": 'q"uote,' * (i % 3)}
        rows.append(csv_row(record(i), **cells))
    path = write_csv(tmp_path / "big.csv", rows)
    with open(path, "rb") as fh:
        expected = [r["generation_id"] for r in csv.DictReader(io.TextIOWrapper(fh, newline=""))]
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        starts, line = [], reader.line_num + 1
        for _ in reader:
            starts.append(line)
            line = reader.line_num + 1
    gz = tmp_path / "big.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    parser = Parser()
    ids, lines = [], []
    for chunk in iter_chunks(gz):  # one chunk through the real parser
        parsed = parser.parse_chunk(chunk)
        assert all(not e for e in parsed.column("_errors").to_pylist())
        ids += parsed.column("id").to_pylist()
        lines += chunk.line_numbers_at(parsed.column("pos").to_numpy()).tolist()
    parser.close()
    assert ids == expected and lines == starts
    for source, chunk_bytes in ((gz, 4000), (path, 300)):  # many chunks, some smaller than a record
        ids, lines, total = [], [], 0
        for chunk in iter_chunks(source, chunk_bytes):
            split = chunk.split
            keep = ~split.blank
            texts = [t for t, k in zip(split.lines.to_pylist(), keep, strict=True) if k]
            ids += [json.loads(t)["id"] for t in texts]
            lines += split.line_numbers[keep].tolist()
            total += chunk.count
        assert ids == expected and lines == starts, (source, chunk_bytes)
        assert total == path.read_bytes().count(b"\n") - 1  # every physical data line counted once


def test_raw_at_gives_the_csv_text(tmp_path):
    rows = [csv_row(record(1)), csv_row(record(2), app_name="a\nb")]
    path = write_csv(tmp_path / "e.csv", rows, newline="\n")
    (chunk,) = list(iter_csv_chunks(path))
    numbers = chunk.split.line_numbers
    assert numbers.tolist() == [2, 3, 4]
    lines = path.read_text().split("\n")
    assert chunk.raw_at(np.array([0, 1])) == [lines[1], lines[2] + "\n" + lines[3]]


# --- the same record from JSONL and from the CSV ---------------------------------------------


def test_record_in_jsonl_and_csv_in_one_run_is_kept_once_from_jsonl(tmp_path, lake):
    recs = [record(i) for i in range(1, 4)]
    jsonl = write_jsonl(tmp_path / "a.jsonl", recs)
    export = write_csv(tmp_path / "z.csv", [csv_row(r) for r in recs] + [csv_row(record(4))])
    summary = ingest([export, jsonl], lake)
    assert (summary["rows_read"], summary["rows_written"], summary["rows_duplicate"], summary["rows_quarantined"]) == (7, 4, 3, 0)
    rows = lake_rows(lake)
    assert rows.height == 4
    by_id = _by_id(rows)
    for r in recs:  # the richer JSONL copy is the one kept
        assert by_id[r["id"]]["_source_file"] == str(jsonl.resolve())
        assert by_id[r["id"]]["model"] == r["model"]
    assert by_id[record(4)["id"]]["_source_file"] == str(export.resolve())


def test_csv_after_jsonl_and_jsonl_after_csv_across_runs(tmp_path, lake):
    first = [record(1), record(2)]
    ingest([write_jsonl(tmp_path / "a.jsonl", first)], lake)
    summary = ingest([write_csv(tmp_path / "b.csv", [csv_row(r) for r in first])], lake)
    assert summary["rows_duplicate"] == 2 and summary["rows_written"] == 0 and summary["rows_quarantined"] == 0
    later = [record(5), record(6, provider_responses=None)]  # an older record without attempts
    ingest([write_csv(tmp_path / "c.csv", [csv_row(r) for r in later])], lake)
    summary = ingest([write_jsonl(tmp_path / "d.jsonl", later)], lake)
    assert summary["rows_duplicate"] == 2 and summary["rows_written"] == 0
    assert lake_rows(lake).height == 4


def test_csv_copy_that_disagrees_is_a_conflict_with_its_csv_text(tmp_path, lake):
    rec = record(1)
    ingest([write_jsonl(tmp_path / "a.jsonl", [rec])], lake)
    rows = [
        csv_row(rec, cost_total="0.5"),
        csv_row(record(2, provider_name="OpenAI")),
    ]
    other = record(2)
    ingest([write_jsonl(tmp_path / "b.jsonl", [other])], lake)
    path = write_csv(tmp_path / "c.csv", [*rows, csv_row(record(3), model_permaslug="openai/gpt-5")])
    ingest([write_jsonl(tmp_path / "d.jsonl", [record(3)])], lake)
    summary = ingest([path], lake)
    assert summary["rows_quarantined"] == 3 and summary["rows_duplicate"] == 0
    q = quarantine_rows(lake).sort("source_line")
    assert q["source_line"].to_list() == [2, 3, 4]
    assert all(r.to_list()[0].startswith("id: conflicting duplicate") for r in q["reasons"])
    assert q["raw"][0] == path.read_bytes().decode().split("\r\n")[1]
