"""Input forms: files and directories, plain/gzip/zstd, envelopes, BOM, CRLF, blank lines."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pytest

from conftest import ingest, lake_rows, quarantine_rows, record, write_jsonl
from pipeline.errors import InputError


def _zstd(path, text: bytes):
    with pa.output_stream(str(path), compression="zstd") as out:
        out.write(text)
    return path


def test_directories_are_searched_recursively_for_supported_files(tmp_path, lake):
    inbox = tmp_path / "inbox"
    write_jsonl(inbox / "a.jsonl", [record(1)])
    write_jsonl(inbox / "deeper" / "b.ndjson", [record(2)])
    write_jsonl(inbox / "deeper" / "c.json", [record(3)])
    (inbox / "deeper" / "d.json.gz").write_bytes(gzip.compress((json.dumps(record(4)) + "\n").encode()))
    _zstd(inbox / "e.jsonl.zst", (json.dumps(record(5)) + "\n").encode())
    (inbox / "notes.txt").write_text("not data")
    write_jsonl(inbox / ".hidden" / "f.jsonl", [record(6)])
    summary = ingest([inbox], lake)
    assert summary["files"] == 5
    assert sorted(lake_rows(lake)["id"].to_list()) == sorted(record(i)["id"] for i in range(1, 6))


def test_gzip_and_zstd_streams_keep_line_numbers(tmp_path, lake):
    lines = [json.dumps(record(i)) for i in range(3)] + ["{broken"]
    text = ("\n".join(lines) + "\n").encode()
    (tmp_path / "x.jsonl.gz").write_bytes(gzip.compress(text))
    _zstd(tmp_path / "y.jsonl.zst", text.replace(b"gen-", b"gen-z"))
    ingest([tmp_path / "x.jsonl.gz", tmp_path / "y.jsonl.zst"], lake)
    assert lake_rows(lake).height == 6
    q = quarantine_rows(lake)
    assert q["source_line"].to_list() == [4, 4]
    assert q["raw"].to_list() == ["{broken", "{broken"]


def test_bom_crlf_blank_lines_and_last_line_without_newline(tmp_path, lake):
    body = "\r\n".join([json.dumps({"data": record(1)}), "", "   ", json.dumps(record(2)), "", json.dumps({"data": record(3)})])
    path = tmp_path / "export.ndjson"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    summary = ingest([path], lake)
    assert summary["rows_read"] == 3 and summary["rows_written"] == 3 and summary["rows_quarantined"] == 0
    rows = lake_rows(lake).sort("_source_line")
    assert rows["_source_line"].to_list() == [1, 4, 6]
    assert rows["id"].to_list() == [record(1)["id"], record(2)["id"], record(3)["id"]]


def test_invalid_utf8_line_is_quarantined_alone(tmp_path, lake):
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(json.dumps(record(1)).encode() + b"\n" + b'{"id": "\xff\xfe"}\n' + json.dumps(record(2)).encode() + b"\n")
    summary = ingest([path], lake)
    assert summary["rows_written"] == 2 and summary["rows_quarantined"] == 1
    q = quarantine_rows(lake)
    assert q["source_line"].to_list() == [2] and q["reasons"][0].to_list() == ["line: not valid UTF-8"]


def test_many_chunks_and_a_bad_line_in_the_middle(tmp_path, lake):
    rows = [record(i) for i in range(400)]
    rows[237] = json.dumps(record(237, total_cost="1"))  # refused by the reader
    rows[51] = record(51, native_tokens_prompt=-3)  # refused by pandera, in another chunk
    rows[333] = record(333, model="")
    path = write_jsonl(tmp_path / "big.jsonl", rows)
    from pipeline.ingest.run import Options
    from pipeline.ingest.run import ingest as run

    summary = run([path], lake, Options(chunk_bytes=4096))
    assert summary["rows_read"] == 400 and summary["rows_written"] == 397
    q = quarantine_rows(lake).sort("source_line")
    assert q["source_line"].to_list() == [52, 238, 334]
    assert q["id"].to_list() == [record(51)["id"], record(237)["id"], record(333)["id"]]
    assert q["reasons"][0].to_list()[0].startswith("native_tokens_prompt: must be >= 0")
    assert q["reasons"][2].to_list()[0].startswith("model: must be a non-empty string")
    written = lake_rows(lake)
    assert sorted(written["_source_line"].to_list()) == [n for n in range(1, 401) if n not in (52, 238, 334)]


def test_mixed_bare_and_enveloped_lines_in_one_chunk(tmp_path, lake):
    rows = [record(i) if i % 2 else json.dumps({"data": record(i)}) for i in range(20)]
    summary = ingest([write_jsonl(tmp_path / "mixed.jsonl", rows)], lake)
    assert summary["rows_written"] == 20


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.jsonl", None, "no such file or directory"),
        ("notes.txt", b"hello", "unsupported file type"),
        ("broken.jsonl.gz", b"this is not gzip", "is corrupt or truncated"),
    ],
)
def test_unusable_input_is_an_error_naming_the_file(tmp_path, lake, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    write_jsonl(tmp_path / "good.jsonl", [record(1)])
    with pytest.raises(InputError) as err:
        ingest([tmp_path / "good.jsonl", path], lake)
    assert message in err.value.message() and name in err.value.message()
    assert not (lake / "generations").exists(), "the lake must be untouched"


def test_truncated_gzip_leaves_lake_as_it_was(tmp_path, lake):
    write_jsonl(tmp_path / "first.jsonl", [record(1)])
    ingest([tmp_path / "first.jsonl"], lake)
    before = lake_rows(lake)
    data = gzip.compress(("\n".join(json.dumps(record(i)) for i in range(2, 200)) + "\n").encode())
    (tmp_path / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="corrupt or truncated"):
        ingest([tmp_path / "cut.jsonl.gz"], lake)
    assert lake_rows(lake).equals(before)
