"""The ingest under the worst input and the worst moments: random bytes, binaries, truncated
blocks, huge lines, a failure injected into each stage of the pipeline, Ctrl-C and SIGTERM.
Every case must end within seconds, with one clear line, the lock released and the lake as it
was (or with exactly the rows the contract says)."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLE, cli, ingest, lake_rows, quarantine_rows, record, write_jsonl
from pipeline.errors import LockHeld
from pipeline.ingest import threads
from pipeline.lake.store import Lake


def run_with_timeout(fn, timeout: float = 60.0):
    """Call `fn()` in a thread; fail the test if it has not returned within `timeout`. Returns
    what it returned, re-raises what it raised."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test, which re-raises it
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), f"still running after {timeout} s: a hang"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def pipeline_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("orusage-") and t.is_alive()]


def lock_is_free(lake: Path) -> bool:
    try:
        with Lake(lake).lock(wait=0):
            return True
    except LockHeld:
        return False


def state(lake: Path) -> dict:
    """What a reader can see of the lake: the published version and its files."""
    if not lake.exists():
        return {}
    files = sorted(str(p.relative_to(lake)) for p in lake.rglob("*") if p.is_file() and ".lock" not in p.name)
    current = os.readlink(lake / "current") if (lake / "current").is_symlink() else None
    return {"current": current, "files": files}


# --- the thread handoffs ----------------------------------------------------------------------


def test_prefetch_consumer_failing_early_stops_the_producer():
    produced = []

    def make():
        for i in range(10_000):
            produced.append(i)
            yield i

    def consume():
        for item in threads.prefetch(make, depth=1):
            if item == 3:
                raise ValueError("consumer failed")

    with pytest.raises(ValueError, match="consumer failed"):
        run_with_timeout(consume, 20)
    time.sleep(0.3)
    assert len(produced) < 100  # the producer stopped, it did not run on to the end
    assert not pipeline_threads()


def test_nested_prefetch_with_a_failing_prepare_never_hangs():
    """The shape of the ingest: a reader thread inside a parser thread; the parser's `prepare`
    fails while the reader's queue is full. This is the handoff that used to deadlock."""

    def reader():  # short: the reader is done, waiting to hand on its end, when the parse fails
        yield from range(2)

    def prepare(item):
        time.sleep(0.05)
        raise RuntimeError("parse failed")

    def consume():
        return list(threads.prefetch(lambda: threads.prefetch(reader, depth=1), depth=2, prepare=prepare))

    for _ in range(10):  # the old deadlock depended on timing; try it many times
        with pytest.raises(RuntimeError, match="parse failed"):
            run_with_timeout(consume, 20)
    time.sleep(0.3)
    assert not pipeline_threads()


def test_background_writer_failure_reaches_the_submitter():
    def consume(item):
        if item == 2:
            raise OSError("disk gone")

    def feed():
        writer = threads.Background(consume, depth=1)
        try:
            for i in range(1000):
                writer.submit(i)
            writer.close()
        except BaseException:
            writer.abort()
            raise

    with pytest.raises(OSError, match="disk gone"):
        run_with_timeout(feed, 20)
    assert not pipeline_threads()


# --- a failure injected into each stage of a real ingest --------------------------------------


def _many_small_blocks(tmp_path: Path, n: int = 3000) -> Path:
    rows = [record(i) for i in range(n)]
    rows[n // 2] = "{not json"
    return write_jsonl(tmp_path / "in.jsonl", rows)


def _fail_on_call(k: int, exc: BaseException):
    """A wrapper that lets `k - 1` calls through and raises `exc` on call k."""
    calls = {"n": 0}

    def wrap(original):
        def inner(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == k:
                raise exc
            return original(*args, **kwargs)

        return inner

    return wrap


STAGES = {
    # stage: (module attribute to wrap, which call fails)
    "read": ("pipeline.sources.read._read_into", 3),
    "parse": ("pipeline.ingest.parse.Parser.prepare", 4),
    "validate": ("pipeline.ingest.run.validate_batch", 1),
    "write": ("pipeline.ingest.run.PartitionWriter.add", 1),
    "hash": ("pipeline.ingest.run.sha256_of", 1),
    "settle": ("pipeline.ingest.run.settle_duplicates", 1),
}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_failure_in_any_stage_ends_the_run_cleanly(tmp_path, monkeypatch, stage):
    import importlib

    from pipeline.ingest import run as ingest_module

    data = _many_small_blocks(tmp_path)
    lake = tmp_path / "lake"
    ingest([write_jsonl(tmp_path / "first.jsonl", [record(100_000)])], lake)
    before = state(lake)

    target, k = STAGES[stage]
    module_name, _, attr = target.rpartition(".")
    try:
        owner = importlib.import_module(module_name)
    except ModuleNotFoundError:  # a class attribute: module.Class.method
        module_name, _, cls = module_name.rpartition(".")
        owner = getattr(importlib.import_module(module_name), cls)
    monkeypatch.setattr(owner, attr, _fail_on_call(k, RuntimeError(f"injected into {stage}"))(getattr(owner, attr)))
    if stage == "hash":  # the file is hashed up front only when another file has its size
        twin = tmp_path / "twin.jsonl"
        twin.write_bytes(data.read_bytes().replace(b"{not json", b"{not_json"))
        paths = [data, twin]
    else:
        paths = [data]

    def run():
        return ingest_module.ingest(paths, lake, ingest_module.Options(chunk_bytes=16 * 1024))

    with pytest.raises(RuntimeError, match=f"injected into {stage}"):
        run_with_timeout(run, 60)
    time.sleep(0.3)
    assert not pipeline_threads()
    assert lock_is_free(lake)
    assert state(lake) == before  # nothing published, nothing left behind
    assert not (lake / "_staging").exists()


# --- random and broken input ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_random_bytes_are_refused_in_seconds(tmp_path, seed):
    data = tmp_path / "binary.jsonl"
    data.write_bytes(random.Random(seed).randbytes(200_000))
    started = time.monotonic()
    out = cli("ingest", data, "--lake", tmp_path / "lake", timeout=60)
    assert time.monotonic() - started < 30
    assert out.returncode == 1, out.stderr
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("Error: ")
    assert f"{data}: is not a text file" in out.stderr
    assert not (tmp_path / "lake").exists()  # nothing created


def test_a_binary_renamed_jsonl_is_refused(tmp_path):
    data = tmp_path / "x.jsonl"
    data.write_bytes(Path(sys.executable).resolve().read_bytes()[:300_000])
    out = cli("ingest", data, "--lake", tmp_path / "lake")
    assert out.returncode == 1
    assert out.stderr.strip() == (
        f"Error: {data}: is not a text file (its first bytes are binary). "
        "Give JSON lines exports of generation records; remove this file from the input."
    )
    assert not (tmp_path / "lake").exists()


def test_text_with_no_json_object_is_refused_and_the_lake_is_unchanged(tmp_path):
    lake = tmp_path / "lake"
    ingest([write_jsonl(tmp_path / "ok.jsonl", [record(1)])], lake)
    before = state(lake)
    junk = tmp_path / "notes.jsonl"
    junk.write_text("".join(f"this is line {i}, not JSON\n" for i in range(400)) + "42\n[1, 2]\n")
    good = write_jsonl(tmp_path / "good.jsonl", [record(2)])
    out = cli("ingest", good, junk, "--lake", lake)
    assert out.returncode == 1
    assert out.stderr.strip() == (
        f"Error: {junk}: no line is a JSON object (402 lines read); it is not an export of generation records. "
        "Give JSON lines exports (one record per line); remove this file from the input."
    )
    assert state(lake) == before
    assert lock_is_free(lake)


def test_default_max_quarantine_ratio_on_ingest(tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", [record(i) for i in range(9)] + ["{bad"])
    base = os.environ.copy()
    base.pop("ORUSAGE_MAX_QUARANTINE_RATIO", None)
    out = subprocess.run(
        [sys.executable, "-m", "pipeline", "ingest", str(data), "--lake", str(tmp_path / "a")],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    assert "quarantined 1 of 10 rows (10.0%, more than max_quarantine_ratio 5.0%); the good rows were kept" in out.stderr
    assert lake_rows(tmp_path / "a").height == 9  # the good rows were kept
    off = cli("ingest", data, "--lake", tmp_path / "b", "--max-quarantine-ratio", "1")
    assert off.returncode == 0, off.stderr
    by_env = cli("ingest", data, "--lake", tmp_path / "c", env={"ORUSAGE_MAX_QUARANTINE_RATIO": "0.2"})
    assert by_env.returncode == 0, by_env.stderr
    helptext = " ".join(cli("ingest", "--help").stdout.split())
    assert "1 turns the check off" in helptext and "else 0.05, as for `orusage run`" in helptext
    by_config = tmp_path / "orusage.toml"
    by_config.write_text("max_quarantine_ratio = 0.5\n")
    out = subprocess.run(
        [sys.executable, "-m", "pipeline", "ingest", str(data), "--lake", str(tmp_path / "d"), "--config", str(by_config)],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr  # 10% is within the file's 50%


def test_truncated_files_end_cleanly(tmp_path):
    """Exports cut at random bytes, plain and gzip: the last partial line is quarantined (plain)
    or the file is refused as corrupt (gzip); never a hang, never a traceback."""
    text = b"".join(json.dumps(record(i)).encode() + b"\n" for i in range(300))
    rng = random.Random(7)
    for n, cut in enumerate(sorted(rng.sample(range(100, len(text)), 4))):
        plain = tmp_path / f"cut-{n}.jsonl"
        plain.write_bytes(text[:cut])
        out = cli("ingest", plain, "--lake", tmp_path / f"lake-{n}", "--json", timeout=60)
        assert out.returncode == 0, out.stderr
        summary = json.loads(out.stdout)
        assert summary["rows_read"] == text[:cut].count(b"\n") + (not text[:cut].endswith(b"\n"))
        assert summary["rows_read"] == summary["rows_written"] + summary["rows_quarantined"]
        packed = gzip.compress(text)
        broken = tmp_path / f"cut-{n}.jsonl.gz"
        broken.write_bytes(packed[: cut * len(packed) // len(text)])
        out = cli("ingest", broken, "--lake", tmp_path / f"gz-{n}", timeout=60)
        assert out.returncode == 1
        assert out.stderr.startswith(f"Error: {broken}: is corrupt or truncated") and out.stderr.count("\n") == 1


def test_fuzzed_lines_never_hang_and_always_add_up(tmp_path):
    """Valid records mixed with mutated ones, random byte runs and empty lines, read in tiny
    blocks so that lines straddle block boundaries: every line ends in exactly one place."""
    rng = random.Random(11)
    lines: list[bytes] = []
    for i in range(600):
        good = json.dumps(record(i)).encode()
        roll = rng.random()
        if roll < 0.6:
            lines.append(good)
        elif roll < 0.8:
            pos = rng.randrange(len(good))
            lines.append(
                good[:pos]
                + bytes([rng.randrange(256) for _ in range(rng.randrange(1, 4))]).replace(b"\n", b" ")
                + good[pos + 1 :]
            )
        elif roll < 0.9:
            lines.append(rng.randbytes(rng.randrange(1, 200)).replace(b"\n", b" "))
        else:
            lines.append(b"")
    data = tmp_path / "fuzz.jsonl"
    data.write_bytes(b"\n".join(lines) + b"\n")
    lake = tmp_path / "lake"

    from pipeline.ingest import run as ingest_module

    for chunk in (997, 4096, 65536):
        target = tmp_path / f"lake-{chunk}"
        summary = run_with_timeout(partial(ingest_module.ingest, [data], target, ingest_module.Options(chunk_bytes=chunk)), 120)
        non_blank = sum(1 for line in lines if line.strip())
        assert summary["rows_read"] == non_blank
        assert summary["rows_read"] == summary["rows_written"] + summary["rows_quarantined"] + summary["rows_duplicate"]
        rows = lake_rows(target)
        assert rows.height == summary["rows_written"]
        # Every kept row came from the line it says it came from.
        for source_line, rid in zip(rows["_source_line"].to_list(), rows["id"].to_list(), strict=True):
            assert json.loads(lines[source_line - 1])["id"] == rid
    assert not lake.exists()


# --- huge lines -------------------------------------------------------------------------------


def test_a_50_mb_line_is_quarantined_in_bounded_memory(tmp_path):
    big = json.dumps(record(2, user_agent="x" * 50_000_000))
    data = write_jsonl(tmp_path / "big.jsonl", [record(1), big, record(3)])
    code = (
        "import json, resource, sys\n"
        "from pathlib import Path\n"
        "from pipeline.ingest.run import ingest\n"
        "s = ingest([Path(sys.argv[1])], Path(sys.argv[2]))\n"
        "print(json.dumps({'summary': s, 'rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(data), str(tmp_path / "lake")], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["summary"]["rows_written"] == 2 and result["summary"]["rows_quarantined"] == 1
    assert result["rss_mb"] < 600, result["rss_mb"]  # was 1.3-1.5 GB
    q = quarantine_rows(tmp_path / "lake")
    assert q["source_line"].to_list() == [2]
    [reasons] = q["reasons"].to_list()
    assert reasons == [f"line: too long ({len(big):,} bytes; the limit is 1,048,576; raw text cut to 65,536 bytes)"]
    assert q["raw"][0] == big[:65536]


@pytest.mark.parametrize("chunk", [4096, 10_000, 1 << 20])
def test_long_lines_anywhere_keep_every_line_number(tmp_path, chunk):
    """Lines over the limit at the start, in the middle, at block edges, at the end without a
    newline: each is quarantined with its own line number and every other line keeps its own."""
    from pipeline.ingest import run as ingest_module

    rows = [record(i, user_agent="y" * (5000 if i % 37 == 0 else 10)) for i in range(200)]
    data = tmp_path / "long.jsonl"
    text = "\n".join(json.dumps(r) for r in rows)  # no newline after the last (long) line
    data.write_text(text + json.dumps(record(999, user_agent="z" * 6000)))
    limit = 3000
    original = ingest_module.iter_chunks

    def small_limit(path, chunk_bytes, digest=None):
        return original(path, chunk_bytes, digest, max_line=limit)

    import pipeline.ingest.run

    pipeline.ingest.run.iter_chunks, saved = small_limit, pipeline.ingest.run.iter_chunks
    try:
        summary = ingest_module.ingest([data], tmp_path / "lake", ingest_module.Options(chunk_bytes=chunk))
    finally:
        pipeline.ingest.run.iter_chunks = saved
    long_lines = [i + 1 for i in range(200) if i % 37 == 0]
    last = 200  # the record(999) line is glued to line 200, which makes it long
    q = quarantine_rows(tmp_path / "lake")
    assert sorted(q["source_line"].to_list()) == sorted({*long_lines, last})
    assert all(r[0].startswith("line: too long") for r in q["reasons"].to_list())
    kept = lake_rows(tmp_path / "lake")
    for line, rid in zip(kept["_source_line"].to_list(), kept["id"].to_list(), strict=True):
        assert rid == rows[line - 1]["id"]
    assert summary["rows_read"] == 200


# --- duplicate keys ---------------------------------------------------------------------------


def _with_duplicate(rec: dict, key: str, value) -> str:
    text = json.dumps(rec)
    return text[:-1] + f", {json.dumps(key)}: {json.dumps(value)}" + "}"


def test_duplicate_keys_are_quarantined_on_every_path(tmp_path):
    top = _with_duplicate(record(1), "total_cost", 999)
    envelope = '{"data": ' + json.dumps(record(2)) + ', "data": ' + json.dumps(record(3)) + "}"
    attempt = json.dumps(record(4)).replace('"status": 429', '"status": 429, "status": 200')
    inner = '{"data": ' + _with_duplicate(record(5), "model", "x/y") + "}"
    bad = [top, envelope, attempt, inner]
    # Alone (the strict path gives the reasons), and among many valid lines in one block (the
    # fast path refuses the block, then each piece); and in the middle of a file.
    for name, lines in {"alone": bad, "mixed": [record(100 + i) for i in range(50)] + bad + [record(200)]}.items():
        lake = tmp_path / name
        ingest([write_jsonl(tmp_path / f"{name}.jsonl", lines)], lake)
        q = quarantine_rows(lake)
        by_id = dict(zip(q["id"].to_list(), q["reasons"].to_list(), strict=True))
        assert by_id[record(1)["id"]] == ["total_cost: duplicate key"]
        assert ["data: duplicate key"] in q["reasons"].to_list()
        assert by_id[record(4)["id"]] == ["provider_responses[].status: duplicate key"]
        assert by_id[record(5)["id"]] == ["model: duplicate key"]
        rows = lake_rows(lake)
        kept = set(rows["id"].to_list()) if rows.height else set()
        assert not kept & {record(i)["id"] for i in range(1, 6)}
        assert len(kept) == len(lines) - len(bad)  # every valid line kept


def test_duplicate_key_lines_are_not_replayed_into_the_lake(tmp_path):
    from pipeline.ingest.replay import replay

    lake = tmp_path / "lake"
    ingest([write_jsonl(tmp_path / "in.jsonl", [record(0), _with_duplicate(record(1), "usage", 5)])], lake)
    summary = replay(lake)
    assert summary["rows_written"] == 0
    assert quarantine_rows(lake)["reasons"].to_list() == [["usage: duplicate key"]]


# --- directories with nothing to ingest -------------------------------------------------------


def test_a_directory_with_no_supported_file_exits_1_and_creates_nothing(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello\n")
    (folder / "data.parquet").write_bytes(b"PAR1")
    (folder / ".hidden.jsonl").write_text(json.dumps(record(1)) + "\n")
    (folder / "other.csv").write_text("a,b\n1,2\n")
    lake = tmp_path / "lake"
    out = cli("ingest", folder, "--lake", lake)
    assert out.returncode == 1
    assert out.stderr.strip() == (
        f"Error: {folder}: no file to ingest (4 left out: 1 hidden file (.hidden.jsonl); "
        "2 unsupported file type (data.parquet, notes.txt); 1 CSV that is not a dashboard export (other.csv)). "
        "Give .jsonl, .ndjson or .json files (optionally .gz or .zst) or the dashboard's .csv export."
    )
    assert not lake.exists()


def test_files_left_out_of_a_directory_are_counted(tmp_path):
    folder = tmp_path / "exports"
    write_jsonl(folder / "a.jsonl", [record(1)])
    (folder / "notes.txt").write_text("hello\n")
    out = cli("ingest", folder, "--lake", tmp_path / "lake", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["files_ignored"] == [{"path": str(folder / "notes.txt"), "reason": "unsupported file type"}]
    human = cli("ingest", folder, "--lake", tmp_path / "lake2")
    assert "files in the directories given: 1 left out: 1 unsupported file type (notes.txt)" in human.stdout


# --- Ctrl-C and SIGTERM -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "sig, code, what", [(signal.SIGINT, 130, "interrupted (Ctrl-C)"), (signal.SIGTERM, 143, "terminated (SIGTERM)")]
)
def test_a_signal_mid_run_stops_cleanly(tmp_path, sig, code, what):
    lake = tmp_path / "lake"
    ingest([write_jsonl(tmp_path / "first.jsonl", [record(10**9)])], lake)
    before = state(lake)
    # Large enough to take seconds to ingest: the signal comes while it reads, parses and writes.
    data = tmp_path / "large.jsonl"
    with open(data, "wb") as fh:
        block = b"".join(json.dumps(record(i)).encode() + b"\n" for i in range(1000))
        for _ in range(150):
            fh.write(block)
    env = {**os.environ, "ORUSAGE_MAX_QUARANTINE_RATIO": "1"}
    env.pop("ORUSAGE_DEBUG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "ingest", str(data), "--lake", str(lake)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not any((lake / "_versions").glob("*.tmp")) and not (lake / "_staging").exists():
            assert time.monotonic() < deadline and proc.poll() is None, (
                proc.stderr.read() if proc.poll() is not None else "no run"
            )
            time.sleep(0.05)
        time.sleep(0.5)  # well inside the run: reading, parsing and writing
        started = time.monotonic()
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=30)
        assert time.monotonic() - started < 15
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert err.strip() == f"Error: {what}. Nothing of this run was published and the lake lock is released; run it again."
    assert "Traceback" not in err
    assert lock_is_free(lake)
    assert state(lake) == before


def test_run_writes_its_summary_line_when_stopped(tmp_path, monkeypatch):
    """`orusage run` stopped by a signal: the summary line is still the last line, with 143."""
    from pipeline.errors import Terminated
    from pipeline.ingest import run as ingest_module
    from pipeline.ops import runner
    from pipeline.ops.config import load_settings

    inbox = tmp_path / "inbox"
    write_jsonl(inbox / "a.jsonl", [record(1)])
    old = time.time() - 3600
    os.utime(inbox / "a.jsonl", (old, old))
    config = tmp_path / "orusage.toml"
    config.write_text(f'lake = "{tmp_path / "lake"}"\n[inbox]\npaths = ["{inbox}"]\n[report]\nformats = []\n')

    def stopped(*args, **kwargs):
        raise Terminated()

    monkeypatch.setattr(ingest_module, "_run", stopped)
    lines = []

    class Log:
        def info(self, event, **fields):
            lines.append((event, fields))

        warning = error = info

    outcome = runner.run(load_settings(config), log=Log())
    assert outcome.exit_code == 143
    event, fields = lines[-1]
    assert event == "run_summary" and fields["exit_code"] == 143 and fields["published"] is False
    assert "terminated (SIGTERM)" in fields["error"]
    assert lock_is_free(tmp_path / "lake")


def test_sample_still_ingests_after_all_of_this(tmp_path):
    """The ordinary path is unchanged: the bundled sample ingests with the default ratio."""
    out = subprocess.run(
        [sys.executable, "-m", "pipeline", "ingest", str(SAMPLE), "--lake", str(tmp_path / "lake"), "--json"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "ORUSAGE_MAX_QUARANTINE_RATIO"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["rows_read"] == summary["rows_written"] + summary["rows_quarantined"] + summary["rows_duplicate"]


def test_an_error_raised_after_a_stop_signal_counts_as_the_stop(monkeypatch):
    """DuckDB catches the signal itself and raises "Query interrupted": the run still ends as
    stopped (130/143), not as an internal error."""
    from pipeline import errors

    monkeypatch.setattr(errors, "_received", [])
    assert errors.interruption(RuntimeError("Query interrupted")) is None
    errors.note_signal(signal.SIGTERM)
    assert errors.interruption(RuntimeError("Query interrupted")) == ("terminated (SIGTERM)", 143)
    assert errors.interruption(KeyboardInterrupt()) == ("interrupted (Ctrl-C)", 130)
