"""Tests of the synthetic record generator (tools/synth.py)."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tools import synth

ROOT = Path(__file__).resolve().parents[1]
FIELD_TABLE = tomllib.loads((ROOT / "schemas" / "generation.toml").read_text(encoding="utf-8"))
FIELDS = {f["name"]: f for f in FIELD_TABLE["field"]}
ATTEMPT_FIELDS = {f["name"]: f for f in FIELD_TABLE["attempt_field"]}


# -- a small strict checker of one record against the field table ------------------------------


def _type_ok(value, ftype: str) -> bool:
    if ftype in ("string", "timestamp"):
        return isinstance(value, str)
    if ftype == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if ftype == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ftype == "bool":
        return isinstance(value, bool)
    raise AssertionError(ftype)


def _check_value(name: str, value, spec: dict) -> list[str]:
    errors = []
    if not _type_ok(value, spec["type"]):
        return [f"{name}: bad type {value!r}"]
    for check in spec.get("checks", []):
        if check == "nonempty" and value == "":
            errors.append(f"{name}: empty")
        elif check == "ge0" and value < 0:
            errors.append(f"{name}: negative")
        elif isinstance(check, dict) and "open_enum" in check and value not in check["open_enum"]:
            errors.append(f"{name}: unknown value {value!r}")
    if spec["type"] == "timestamp":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            errors.append(f"{name}: not an instant {value!r}")
    return errors


def field_errors(rec) -> list[str]:
    """Reasons a parsed line breaks the field table (types, nullability, checks, unknown keys)."""
    if not isinstance(rec, dict):
        return ["not an object"]
    if set(rec) == {"data"} and isinstance(rec["data"], dict):
        rec = rec["data"]
    errors = [f"unknown key {k}" for k in rec if k not in FIELDS]
    for name, spec in FIELDS.items():
        if name not in rec:
            if not spec["absent_ok"]:
                errors.append(f"{name}: missing")
            continue
        value = rec[name]
        if value is None:
            if not spec["nullable"]:
                errors.append(f"{name}: null")
            continue
        if spec["type"] == "provider_responses":
            if not isinstance(value, list):
                errors.append(f"{name}: not a list")
                continue
            for att in value:
                if not isinstance(att, dict):
                    errors.append(f"{name}[]: not an object")
                    continue
                for key, v in att.items():
                    if key not in ATTEMPT_FIELDS:
                        errors.append(f"{name}[].{key}: unknown")
                    elif v is not None:
                        errors += _check_value(f"{name}[].{key}", v, ATTEMPT_FIELDS[key])
            continue
        errors += _check_value(name, value, spec)
    return errors


def invariant_errors(rec: dict) -> list[str]:
    """The relations between fields that real records show (see openrouter-data.md)."""
    e = []
    if rec["usage"] != rec["total_cost"]:
        e.append("usage != total_cost")
    if rec.get("native_tokens_cached") is not None and rec["native_tokens_cached"] > rec["native_tokens_prompt"]:
        e.append("cached > prompt")
    if rec.get("native_tokens_reasoning") is not None and rec["native_tokens_reasoning"] > rec["native_tokens_completion"]:
        e.append("reasoning > completion")
    if (rec["latency"] is None) != (rec["generation_time"] is None):
        e.append("only one of latency/generation_time")
    elif rec["latency"] is not None and rec["latency"] > rec["generation_time"]:
        e.append("latency > generation_time")
    if rec.get("cancelled") and (rec["finish_reason"] is not None or rec["native_finish_reason"] is not None):
        e.append("cancelled with a finish reason")
    attempts = rec.get("provider_responses")
    if attempts:
        last = attempts[-1]
        if last["status"] != 200 or last["provider_name"] != rec["provider_name"]:
            e.append("last attempt not the served one")
        if last["latency"] != rec["latency"]:
            e.append("latency != last attempt latency")
        if any(a["status"] == 200 for a in attempts[:-1]):
            e.append("a fallback attempt with status 200")
    if rec.get("response_cache_source_id") and (
        rec["total_cost"] != 0 or rec["native_tokens_prompt"] or rec["native_tokens_completion"]
    ):
        e.append("cache hit with cost or tokens")
    if rec["id"].count("-") != 2 or len(rec["id"].split("-")[2]) != 20:
        e.append(f"bad id {rec['id']}")
    return e


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    synth.write_sample(out, seed=7)
    return out


def _read_lines(path: Path) -> list[str]:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    text = data.decode("utf-8-sig")
    return [line for line in text.splitlines() if line.strip()]


def _records(path: Path) -> list[dict]:
    out = []
    for line in _read_lines(path):
        obj = json.loads(line)
        out.append(obj["data"] if set(obj) == {"data"} else obj)
    return out


GOOD_FILES = ("generations-2026-09.jsonl", "generations-2026-10.jsonl.gz", "export-envelope.ndjson", "legacy-2025.jsonl")


# -- tests ---------------------------------------------------------------------------------------


def test_since_matches_field_table():
    declared = {name: tuple(int(x) for x in f["since"].split("-")) for name, f in FIELDS.items() if "since" in f}
    assert declared == synth.SINCE


def test_iter_records_count_order_and_determinism():
    a = list(synth.iter_records(500, seed=3))
    b = list(synth.iter_records(500, seed=3))
    c = list(synth.iter_records(500, seed=4))
    assert len(a) == 500
    assert a == b
    assert a != c
    created = [r["created_at"] for r in a]
    assert created == sorted(created) and len(set(created)) == len(created)
    assert len({r["id"] for r in a}) == 500
    start = synth.DEFAULT_START
    first = datetime.fromisoformat(created[0].replace("Z", "+00:00"))
    last = datetime.fromisoformat(created[-1].replace("Z", "+00:00"))
    assert start <= first and (last - start).days < 45


def test_current_shape_records_have_every_field_and_pass_checks():
    recs = list(synth.iter_records(3000, seed=5))
    for rec in recs:
        assert set(rec) == set(FIELDS), set(FIELDS) ^ set(rec)
        assert field_errors(rec) == [], (rec["id"], field_errors(rec))
        assert invariant_errors(rec) == [], (rec["id"], invariant_errors(rec))
    # every nullable field is null somewhere, and set somewhere
    for name, spec in FIELDS.items():
        values = [r[name] for r in recs]
        assert any(v is not None for v in values), f"{name} never set"
        if spec["nullable"] and name != "data_region":  # the API always sends a region
            assert any(v is None for v in values), f"{name} never null"


def test_realistic_mix():
    recs = list(synth.iter_records(20000, seed=9))
    n = len(recs)

    def share(pred):
        return sum(1 for r in recs if pred(r)) / n

    assert 0.03 < share(lambda r: r["is_byok"]) < 0.07
    assert 0.01 < share(lambda r: r["response_cache_source_id"]) < 0.03
    assert 0.05 < share(lambda r: r["provider_responses"] and len(r["provider_responses"]) > 1) < 0.11
    assert 0.2 < share(lambda r: (r["native_tokens_cached"] or 0) > 0) < 0.4
    assert share(lambda r: isinstance(r["cache_discount"], (int, float)) and r["cache_discount"] < 0) > 0.002
    assert share(lambda r: r["data_region"] == "global") > 0.75
    assert share(lambda r: r["data_region"] == "europe") > 0.05
    assert share(lambda r: r["data_region"] == "us") > 0.005
    assert share(lambda r: r["api_type"] == "embeddings") > 0.02
    assert share(lambda r: r["cancelled"]) > 0.01
    assert 20 <= len({r["model"] for r in recs}) <= 30
    assert 8 <= len({r["app_id"] for r in recs if r["app_id"] is not None}) <= 12
    assert {r["finish_reason"] for r in recs} >= {"stop", "length", "tool_calls", "content_filter", "error", None}
    # weekday/working-hours rhythm
    days = [datetime.fromisoformat(r["created_at"].replace("Z", "+00:00")) for r in recs]
    weekday = sum(1 for d in days if d.weekday() < 5) / 5
    weekend = sum(1 for d in days if d.weekday() >= 5) / 2
    assert weekday > 1.4 * weekend
    work = sum(1 for d in days if 9 <= d.hour < 21) / 12
    night = sum(1 for d in days if d.hour < 6) / 6
    assert work > 2 * night


def test_sample_files(sample_dir: Path):
    counts = synth.write_sample(sample_dir / "again", seed=7)
    assert set(counts) == set(synth.SAMPLE_FILES)
    assert 3500 <= sum(counts.values()) <= 4500
    assert (sample_dir / "README.md").exists()
    for name in synth.SAMPLE_FILES:
        assert counts[name] == len(_read_lines(sample_dir / name)), name

    all_ids: list[str] = []
    days = set()
    for name in GOOD_FILES:
        recs = _records(sample_dir / name)
        created = [datetime.fromisoformat(r["created_at"].replace("Z", "+00:00")) for r in recs]
        assert created == sorted(created), name
        for rec in recs:
            assert field_errors(rec) == [], (name, rec["id"], field_errors(rec))
            assert invariant_errors(rec) == [], (name, rec["id"], invariant_errors(rec))
        all_ids += [r["id"] for r in recs]
        days |= {d.date() for d in created}
    assert len(all_ids) == len(set(all_ids))
    sample_days = {d for d in days if d.year == 2026}
    assert len(sample_days) >= 35
    assert {d.month for d in sample_days} == {9, 10}


def test_sample_file_formats(sample_dir: Path):
    sep = (sample_dir / "generations-2026-09.jsonl").read_bytes()
    assert b"\r" not in sep and sep.endswith(b"\n")
    assert all(r["created_at"].startswith("2026-09") for r in _records(sample_dir / "generations-2026-09.jsonl"))

    oct_lines = _read_lines(sample_dir / "generations-2026-10.jsonl.gz")
    enveloped = sum(1 for line in oct_lines if line.startswith('{"data":'))
    assert 0 < enveloped < len(oct_lines)

    exp = (sample_dir / "export-envelope.ndjson").read_bytes()
    assert exp.startswith(b"\xef\xbb\xbf")
    assert not exp.endswith(b"\n")
    body = exp[3:].split(b"\r\n")
    assert b"\n" not in b"".join(body)
    assert 1 <= sum(1 for line in body if not line.strip()) <= 2
    assert all(set(json.loads(line)) == {"data"} for line in body if line.strip())

    legacy = _records(sample_dir / "legacy-2025.jsonl")
    assert 200 <= len(legacy) <= 500
    months = {r["created_at"][:7] for r in legacy}
    assert min(months) >= "2025-01" and max(months) <= "2025-05" and len(months) == 5
    for rec in legacy:
        assert not set(rec) & set(synth.SINCE)
        assert rec["created_at"].endswith("+00:00") and len(rec["created_at"]) == 32


def test_bad_lines(sample_dir: Path):
    lines = (sample_dir / "bad-lines.jsonl").read_text(encoding="utf-8").splitlines()
    invalid, valid, ids = [], [], []
    for line in lines:
        try:
            obj = json.loads(line, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        except ValueError:
            invalid.append(line)
            continue
        errors = field_errors(obj)
        (invalid if errors else valid).append(line)
        if not errors:
            rec = obj["data"] if set(obj) == {"data"} else obj
            ids.append(rec["id"])
    # the unknown key `beta_feature` is allowed (kept in _extra): not counted by field_errors here
    valid_with_extra = [line for line in invalid if '"beta_feature"' in line]
    assert len(valid_with_extra) == 1
    assert 18 <= len(invalid) - 1 <= 28
    assert 8 <= len(valid) + 1 <= 14
    assert len(set(invalid)) == len(invalid)  # each bad line differs
    # exactly one exact duplicate and one conflicting duplicate (same id, different content)
    assert len(ids) - len(set(ids)) == 2
    dup_lines = [line for line in valid if line == valid[0]]
    assert len(dup_lines) == 2
    readme = (sample_dir / "README.md").read_text(encoding="utf-8")
    assert "bad-lines.jsonl" in readme and "NaN" in readme and "mars" in readme


def test_write_sample_is_deterministic(sample_dir: Path, tmp_path: Path):
    synth.write_sample(tmp_path, seed=7)
    for name in (*synth.SAMPLE_FILES, "README.md"):
        assert (tmp_path / name).read_bytes() == (sample_dir / name).read_bytes(), name


def test_bench_deterministic_and_size(tmp_path: Path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    synth.write_bench(a, 5000, seed=11)
    synth.write_bench(b, 5000, seed=11)
    data = a.read_bytes()
    assert hashlib.sha256(data).digest() == hashlib.sha256(b.read_bytes()).digest()
    lines = data.split(b"\n")
    assert lines[-1] == b"" and len(lines) - 1 == 5000
    avg = len(data) / 5000
    assert 1300 <= avg <= 1700, avg
    ids = [json.loads(line)["id"] for line in lines[:-1]]
    assert len(set(ids)) == 5000


def test_main_cli(tmp_path: Path):
    out = tmp_path / "bench.jsonl"
    assert synth.main(["bench", "100", str(out)]) == 0
    assert len(out.read_bytes().splitlines()) == 100
    assert synth.main(["sample", str(tmp_path / "s")]) == 0
    assert (tmp_path / "s" / "bad-lines.jsonl").exists()


def test_import_has_no_side_effects():
    import importlib
    import subprocess
    import sys

    code = "import tools.synth, sys; print(len(sys.argv))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "1" and done.stderr == ""
    assert importlib.import_module("tools.synth") is synth
    assert datetime(2026, 9, 1, tzinfo=UTC) == synth.DEFAULT_START
