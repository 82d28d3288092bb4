"""`make fuzz`: a mutation fuzz of the native parser under AddressSanitizer and UBSan.

The extension (`pipeline/ingest/jsonl_native.cpp`) is built again with
`-fsanitize=address,undefined` into a temporary directory and loaded in a child Python process
(the sanitizer runtime preloaded). Seed lines (the sample data and a few hand-made forms) are
mutated byte by byte (flips, JSON-ish bytes inserted or replaced, spans dropped, doubled or
spliced from another seed, lines cut short) and parsed in blocks. Two things must hold:
no sanitizer report (the child stops at the first), and every line the native parser accepts is
one the strict path accepts unchanged, with the same typed values.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "pipeline" / "ingest" / "jsonl_native.cpp"
TOKENS = [b"{", b"}", b"[", b"]", b",", b":", b'"', b"\\", b" ", b"\t", b"\r", b"\x00", b"\x1f", b"\x7f", b"\xc3",
          b"\xa9", b"\xff", b"\xed\xa0\x80", b"0", b"-", b".", b"e", b"E", b"+", b"1e999", b"null", b"true", b"false",
          b"NaN", b"Infinity", b"\\u0000", b"\\ud800", b'\\"', b"9223372036854775808", b"Z", b"+02:00", b"T"]  # fmt: skip


def build(out_dir: Path) -> Path:
    """The sanitized extension, built into `out_dir`."""
    compiler = os.environ.get("CXX", "g++")
    if shutil.which(compiler) is None:
        raise SystemExit(f"Error: {compiler} not found. Install g++ and libsimdjson-dev (README: Performance).")
    target = out_dir / "jsonl_native.so"
    command = [
        compiler, "-O1", "-g", "-std=c++17", "-shared", "-fPIC", "-fno-omit-frame-pointer",
        "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
        f"-I{sysconfig.get_paths()['include']}", str(SOURCE), "-o", str(target), "-lsimdjson",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"Error: the sanitized build failed:\n{done.stderr[-2000:]}")
    return target


def runtime_libraries(compiler: str) -> str:
    libs = []
    for name in ("libasan.so", "libubsan.so"):
        path = subprocess.run([compiler, f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
        if path and Path(path).exists():
            libs.append(str(Path(path).resolve()))
    return ":".join(libs)


def seeds() -> list[bytes]:
    from pipeline.sources.files import discover, iter_chunks

    lines: list[bytes] = []
    for path in discover([ROOT / "data" / "sample"], []):
        for chunk in iter_chunks(path):
            lines += [bytes(line.rstrip(b"\r\n")) for line in chunk.data.tobytes().split(b"\n") if line.strip()]
    record = json.loads(lines[0])
    lines.append(json.dumps({"data": record}).encode())
    lines.append(json.dumps(record, ensure_ascii=False, indent=None, separators=(",", ":")).encode())
    return lines


def mutate(line: bytes, pool: list[bytes], rnd: random.Random) -> bytes:
    data = bytearray(line)
    for _ in range(rnd.randint(1, 4)):
        if not data:
            data = bytearray(rnd.choice(pool))
        at = rnd.randrange(len(data))
        what = rnd.randrange(7)
        if what == 0:
            data[at] ^= 1 << rnd.randrange(8)
        elif what == 1:
            data[at:at] = rnd.choice(TOKENS)
        elif what == 2:
            data[at : at + 1] = rnd.choice(TOKENS)
        elif what == 3:
            del data[at : at + rnd.randint(1, 16)]
        elif what == 4:
            end = min(len(data), at + rnd.randint(1, 64))
            data[at:at] = data[at:end]
        elif what == 5:
            other = rnd.choice(pool)
            start = rnd.randrange(len(other))
            data[at:] = other[start:]
        else:
            del data[at:]
    return bytes(data).replace(b"\n", b" ")


def child(so: Path, lines: int, seed: int, block: int) -> None:
    import numpy as np
    import pyarrow as pa

    spec = importlib.util.spec_from_file_location("pipeline.ingest.jsonl_native", so)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["pipeline.ingest.jsonl_native"] = module

    from pipeline.ingest.parse import Parser

    parser = Parser(kind="native")
    pool = seeds()
    rnd = random.Random(seed)
    done = accepted_total = 0
    start = time.perf_counter()
    while done < lines:
        batch = [mutate(rnd.choice(pool), pool, rnd) for _ in range(min(block, lines - done))]
        accepted, refused = parser.native.parse(pa.py_buffer(b"\n".join(batch) + b"\n"))
        assert accepted.num_rows + len(refused) == len(batch)
        if accepted.num_rows:
            positions = accepted.column("pos").to_numpy()
            texts = pa.array([batch[i].decode("utf-8") for i in positions], pa.string())
            strict = parser.parse_strict(texts, np.arange(len(positions), dtype=np.int64))
            mine = accepted.drop_columns(["pos", "_errors", "_extra_keys"]).to_pylist()
            theirs = strict.drop_columns(["pos", "_errors", "_extra_keys"]).to_pylist()
            for i, (a, b, errors) in enumerate(zip(mine, theirs, strict.column("_errors").to_pylist(), strict=True)):
                if errors or a != b:
                    line = batch[positions[i]].decode()
                    raise SystemExit(f"Error: the native parser accepted a line the strict path reads otherwise: {line}")
        done += len(batch)
        accepted_total += accepted.num_rows
    seconds = time.perf_counter() - start
    print(
        f"fuzz: {done:,} mutated lines ({len(pool):,} seeds, seed {seed}) in {seconds:.1f} s: "
        f"{accepted_total:,} accepted by the native parser, each one read the same by the strict path; "
        f"{done - accepted_total:,} refused; no sanitizer report"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.fuzz_native", description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--block", type=int, default=5_000, help="lines per parsed block")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.lines, args.seed, args.block)
        return 0
    with tempfile.TemporaryDirectory(prefix="orusage-fuzz-") as tmp:
        so = build(Path(tmp))
        env = dict(os.environ)
        env["LD_PRELOAD"] = runtime_libraries(os.environ.get("CXX", "g++"))
        env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1"
        env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1"
        command = [sys.executable, "-m", "tools.fuzz_native", "--child", str(so), "--lines", str(args.lines)]
        command += ["--seed", str(args.seed), "--block", str(args.block)]
        done = subprocess.run(command, env=env, cwd=ROOT)
    if done.returncode != 0:
        print(f"Error: the fuzz run failed (exit {done.returncode}; the report is above).", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
