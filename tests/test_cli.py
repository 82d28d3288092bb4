"""The command line as a user meets it: exit codes, one-line errors, --json, the lake default."""

from __future__ import annotations

import gzip
import json
import shlex
import subprocess

from conftest import ROOT, cli, lake_rows, record, write_jsonl

SUMMARY_KEYS = {
    "run_id",
    "files",
    "files_skipped",
    "rows_read",
    "rows_written",
    "rows_quarantined",
    "rows_duplicate",
    "warnings",
    "seconds",
}


def test_ingest_json_summary(tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", [record(1), record(2), "{bad"])
    out = cli("ingest", data, "--lake", tmp_path / "lake", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert set(summary) >= SUMMARY_KEYS
    assert (summary["rows_read"], summary["rows_written"], summary["rows_quarantined"]) == (3, 2, 1)


def test_human_summary_and_quarantine_listing(tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", [record(1), record(2, total_cost="5")])
    out = cli("ingest", data, "--lake", tmp_path / "lake")
    assert out.returncode == 0, out.stderr
    assert "rows read 2 = written 1 + quarantined 1 + duplicate 0" in out.stdout
    listing = cli("quarantine", "--lake", tmp_path / "lake")
    assert listing.returncode == 0 and "in.jsonl:2" in listing.stdout and "1 row(s)" in listing.stdout
    as_json = [json.loads(line) for line in cli("quarantine", "--lake", tmp_path / "lake", "--json").stdout.splitlines()]
    assert [r["reasons"] for r in as_json] == [["total_cost: expected number, got string"]]
    shown = cli("quarantine", "--lake", tmp_path / "lake", "show", "in.jsonl:2")
    assert shown.returncode == 0
    assert '"total_cost": "5"' in shown.stdout and "in.jsonl:2" in shown.stdout
    missing = cli("quarantine", "--lake", tmp_path / "lake", "show", "in.jsonl:1")
    assert missing.returncode == 1
    line = missing.stderr.strip()
    assert line.startswith("Error: no quarantined row matches 'in.jsonl:1'. List them with `") and "\n" not in line
    # The command it names runs as it is written (here `python -m pipeline`, as the test started it).
    suggested = shlex.split(line.split("`")[1])
    listed = subprocess.run([*suggested, "--lake", str(tmp_path / "lake")], cwd=ROOT, capture_output=True, text=True, check=False)
    assert listed.returncode == 0 and "in.jsonl:2" in listed.stdout


def test_lake_defaults_to_dot_lake_then_env_then_flag(tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", [record(1)])
    assert cli("ingest", data, cwd=tmp_path).returncode == 0
    assert lake_rows(tmp_path / "lake").height == 1
    assert cli("ingest", data, cwd=tmp_path, env={"ORUSAGE_LAKE": str(tmp_path / "envlake")}).returncode == 0
    assert lake_rows(tmp_path / "envlake").height == 1
    out = cli("ingest", data, "--lake", tmp_path / "flaglake", cwd=tmp_path, env={"ORUSAGE_LAKE": str(tmp_path / "envlake")})
    assert out.returncode == 0 and lake_rows(tmp_path / "flaglake").height == 1


def test_missing_path_exits_1_with_one_line(tmp_path):
    out = cli("ingest", tmp_path / "nope.jsonl", "--lake", tmp_path / "lake")
    assert out.returncode == 1
    assert out.stderr == f"Error: {tmp_path / 'nope.jsonl'}: no such file or directory. Check the path and try again.\n"
    assert out.stdout == "" and not (tmp_path / "lake").exists()


def test_corrupt_gzip_exits_1_naming_the_file(tmp_path):
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(gzip.compress(b'{"id": 1}\n' * 1000)[:40])
    out = cli("ingest", bad, "--lake", tmp_path / "lake")
    assert out.returncode == 1
    line = out.stderr.strip()
    assert line.startswith(f"Error: {bad}: is corrupt or truncated") and "gzip -t" in line
    assert "\n" not in line and "Traceback" not in out.stderr


def test_usage_errors_exit_2(tmp_path):
    assert cli("ingest").returncode == 2
    out = cli("ingest", tmp_path, "--schema-contract", "loose")
    assert out.returncode == 2 and "loose" in out.stderr
    assert cli("frobnicate").returncode == 2


def test_help_documents_exit_codes_and_examples():
    top = cli("--help")
    assert top.returncode == 0 and "Exit codes" in top.stdout
    for code in ("0 ", "1 ", "2 ", "3 ", "4 ", "5 ", "75 "):
        assert f"\n    {code}" in top.stdout, code
    sub = cli("ingest", "-h")
    assert sub.returncode == 0
    for text in (
        "Exit codes:",
        "0   done",
        "1   the run could not proceed",
        "2   usage error",
        "Example:",
        "--schema-contract",
        "--force",
    ):
        assert text in sub.stdout, text


def test_disk_full_exits_1_and_leaves_the_lake_as_it_was(tmp_path):
    import os
    import subprocess

    from conftest import SAMPLE

    if os.geteuid() != 0:
        import pytest

        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    disk = tmp_path / "small-disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=900k", "tmpfs", str(disk)], check=True)
    try:
        lake = disk / "lake"
        first = write_jsonl(tmp_path / "first.jsonl", [record(1)])
        assert cli("ingest", first, "--lake", lake).returncode == 0
        before = lake_rows(lake)
        out = cli("ingest", SAMPLE, "--lake", lake)
        assert out.returncode == 1
        assert (
            out.stderr
            == "Error: the disk is full while writing the run's files. Free some space and run again; the lake was not changed.\n"
        )
        assert lake_rows(lake).equals(before)
        assert [p.name for p in (lake / "_versions").iterdir() if p.name.endswith(".tmp")] == []
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_max_quarantine_ratio_keeps_good_rows_and_exits_1(tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", [record(1), "{bad", "{worse"])
    out = cli("ingest", data, "--lake", tmp_path / "lake", "--max-quarantine-ratio", "0.5")
    assert out.returncode == 1
    assert (
        out.stderr.startswith("Error: run ")
        and "quarantined 2 of 3 rows (66.7%, more than max_quarantine_ratio 50.0%)" in out.stderr
    )
    assert "in.jsonl 2/3" in out.stderr and "line: not valid JSON (2)" in out.stderr
    assert lake_rows(tmp_path / "lake").height == 1
    ok = cli(
        "ingest",
        write_jsonl(tmp_path / "b.jsonl", [record(2), "{bad"]),
        "--lake",
        tmp_path / "lake",
        "--max-quarantine-ratio",
        "0.5",
    )
    assert ok.returncode == 0
