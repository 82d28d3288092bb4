"""Input files -> chunks of raw lines, streamed in bounded memory.

A file is read as a byte stream (plain, gzip or zstd, decompressed by Arrow's C++ codecs), cut
into blocks of about `chunk_bytes` at line boundaries, and each block becomes an Arrow string
array of its lines, built over the block's own buffer (no copy per line). Line numbers are
physical: blank lines count, so a quarantined row's line number points at the file as it is.
Only a block that is not valid UTF-8 is split line by line in Python, to isolate the bad lines.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from pipeline.errors import InputError

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
BOM = b"\xef\xbb\xbf"
DEFAULT_CHUNK_BYTES = 32 * 1024 * 1024


def input_kind(path: Path) -> tuple[str, str | None] | None:
    """(format, compression) of a supported input file name, or None."""
    name = path.name.lower()
    compression = None
    for suffix, codec in COMPRESSIONS.items():
        if name.endswith(suffix):
            compression, name = codec, name[: -len(suffix)]
            break
    if name.endswith(JSON_SUFFIXES):
        return "jsonl", compression
    return None


def discover(paths: list[Path]) -> list[Path]:
    """Files to ingest: each path given, and every supported file under a directory, sorted.

    A named file must exist and have a supported suffix; a directory contributes its supported
    files recursively (hidden files and folders are left out)."""
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise InputError(str(path), "no such file or directory", "Check the path and try again.")
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    candidate = Path(root) / name
                    if not name.startswith(".") and input_kind(candidate):
                        found.append(candidate)
        elif input_kind(path):
            found.append(path)
        else:
            raise InputError(
                str(path),
                "unsupported file type",
                "Give .jsonl, .ndjson or .json files, optionally compressed as .gz or .zst.",
            )
    seen: set[Path] = set()
    unique = []
    for path in found:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def sha256_of(path: Path, block: int = 8 * 1024 * 1024) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(block):
                digest.update(chunk)
    except OSError as exc:
        raise InputError(str(path), f"cannot be read ({exc.strerror or exc})", "Check its permissions.") from exc
    return digest.hexdigest()


@dataclass
class LineChunk:
    """A block of consecutive physical lines of one file."""

    body: pa.Buffer  # the block's bytes (valid UTF-8 lines only when bad_utf8 is empty)
    offsets: np.ndarray  # int64, n + 1: line i is body[offsets[i]:offsets[i + 1]]
    lines: pa.Array  # string, each value one line (trailing CR/LF kept; JSON ignores it)
    line_numbers: np.ndarray  # int64, 1-based
    blank: np.ndarray  # bool: the line is empty apart from its CR/LF
    bad_utf8: list[tuple[int, str]]  # (line number, text with bad bytes replaced)


def _open(path: Path, compression: str | None):
    try:
        return pa.input_stream(str(path), compression=compression)
    except OSError as exc:
        raise InputError(str(path), f"cannot be opened ({exc})", "Check that it exists and is readable.") from exc


def iter_chunks(path: Path, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Iterator[LineChunk]:
    """Stream the lines of `path` in chunks; raises InputError on a corrupt or unreadable file."""
    kind = input_kind(path)
    compression = kind[1] if kind else None
    stream = _open(path, compression)
    next_line = 1
    carry = b""
    first = True
    try:
        while True:
            try:
                block = stream.read(chunk_bytes)
            except OSError as exc:
                what = "is corrupt or truncated" if compression else "cannot be read"
                fix = (
                    f"Re-export or re-download it (check it with `{'gzip -t' if compression == 'gzip' else 'zstd -t'}`)."
                    if compression
                    else "Check the file and the disk."
                )
                raise InputError(str(path), f"{what} ({exc})", fix) from exc
            at_end = len(block) == 0
            data = carry + block
            if first:
                first = False
                if data.startswith(BOM):
                    data = data[len(BOM) :]
            if not data:
                break
            if at_end:
                body, carry = data, b""
            else:
                cut = data.rfind(b"\n")
                if cut < 0:
                    carry = data
                    continue
                body, carry = data[: cut + 1], data[cut + 1 :]
            chunk = _split(body, next_line)
            next_line += len(chunk.line_numbers) + len(chunk.bad_utf8)
            yield chunk
            if at_end:
                break
    finally:
        stream.close()


def _split(body: bytes, first_line: int) -> LineChunk:
    raw = np.frombuffer(body, dtype=np.uint8)
    newlines = np.flatnonzero(raw == 10)
    ends = newlines + 1
    if len(ends) == 0 or ends[-1] != len(body):
        ends = np.append(ends, len(body))
    offsets = np.concatenate(([0], ends)).astype(np.int64)
    count = len(offsets) - 1
    numbers = np.arange(first_line, first_line + count, dtype=np.int64)
    buf = pa.py_buffer(body)
    large = len(body) >= 2**31
    arrow_offsets = pa.py_buffer(offsets if large else offsets.astype(np.int32))
    binary = pa.Array.from_buffers(pa.large_binary() if large else pa.binary(), count, [None, arrow_offsets, buf])
    try:
        lines = binary.cast(pa.large_string() if large else pa.string())
    except pa.ArrowInvalid:
        return _split_slow(body, offsets, numbers)
    return LineChunk(buf, offsets, lines, numbers, _blank(raw, offsets), [])


def _blank(raw: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Lines holding nothing but their line ending."""
    starts, ends = offsets[:-1], offsets[1:]
    length = ends - starts
    if len(raw) == 0:
        return length == 0
    last = raw[np.maximum(ends - 1, 0)]
    length = length - ((length > 0) & (last == 10))
    before = raw[np.maximum(starts + length - 1, 0)]
    length = length - ((length > 0) & (before == 13))
    return length == 0


def _split_slow(body: bytes, offsets: np.ndarray, numbers: np.ndarray) -> LineChunk:
    """A block holding invalid UTF-8: decode line by line and set the bad lines aside."""
    good, good_numbers, bad = [], [], []
    for i, number in enumerate(numbers):
        piece = body[offsets[i] : offsets[i + 1]]
        try:
            good.append(piece.decode("utf-8"))
            good_numbers.append(number)
        except UnicodeDecodeError:
            bad.append((int(number), piece.rstrip(b"\r\n").decode("utf-8", errors="replace")))
    encoded = [g.encode("utf-8") for g in good]
    new_offsets = np.concatenate(([0], np.cumsum([len(e) for e in encoded], dtype=np.int64))).astype(np.int64)
    joined = b"".join(encoded)
    return LineChunk(
        pa.py_buffer(joined),
        new_offsets,
        pa.array(good, pa.string()),
        np.array(good_numbers, dtype=np.int64),
        _blank(np.frombuffer(joined, dtype=np.uint8), new_offsets),
        bad,
    )
