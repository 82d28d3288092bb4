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
from collections.abc import Callable, Iterator
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
    if name.endswith(".csv"):
        return "csv", compression  # a dashboard export, when its header says so (csv_import.py)
    return None


def discover(paths: list[Path]) -> list[Path]:
    """Files to ingest: each path given, and every supported file under a directory, sorted.

    A named file must exist and have a supported suffix; a directory contributes its supported
    files recursively (hidden files and folders are left out). A .csv file is an input only when
    its header is the dashboard export's: named, another CSV is an error; in a directory it is
    left out like any other unsupported file."""
    from pipeline.csv_import import is_dashboard_csv

    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise InputError(str(path), "no such file or directory", "Check the path and try again.")
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    candidate = Path(root) / name
                    kind = input_kind(candidate)
                    if not name.startswith(".") and kind and (kind[0] != "csv" or is_dashboard_csv(candidate)):
                        found.append(candidate)
        elif input_kind(path):
            if input_kind(path)[0] == "csv" and not is_dashboard_csv(path):
                raise InputError(
                    str(path),
                    "is a CSV file but not an OpenRouter dashboard export (its header lacks generation_id and created_at)",
                    "Give the per-generation CSV from the dashboard's Activity page, or JSONL records.",
                )
            found.append(path)
        else:
            raise InputError(
                str(path),
                "unsupported file type",
                "Give .jsonl, .ndjson or .json files or the dashboard's .csv export, optionally compressed as .gz or .zst.",
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
    buf = bytearray(block)
    view = memoryview(buf)
    try:
        with open(path, "rb", buffering=0) as fh:
            while got := fh.readinto(buf):
                digest.update(view[:got])
    except OSError as exc:
        raise InputError(str(path), f"cannot be read ({exc.strerror or exc})", "Check its permissions.") from exc
    return digest.hexdigest()


class LineChunk:
    """A block of consecutive physical lines of one file.

    Only the bytes are held up front. The per-line view (offsets, the string array of lines,
    blank lines, invalid UTF-8) is built on first use: the fast path needs none of it when the
    block has no blank line, and then line numbers are simply consecutive."""

    def __init__(self, data: np.ndarray, first_line: int):
        self.data = data  # uint8 view of the chunk's bytes
        self.body = pa.py_buffer(data)  # zero-copy view for Arrow
        self.first_line = first_line
        newlines = _newlines(data)
        self.count = len(newlines) + (1 if len(data) and data[-1] != 10 else 0)
        # A line is possibly blank (or whitespace only) when it starts with CR, LF, space or tab.
        starts = newlines + 1
        starts = starts[starts < len(data)]
        first = data[starts]
        head = data[:1]
        self.maybe_blank = bool(
            np.any((first == 10) | (first == 13) | (first == 32) | (first == 9))
            or np.any((head == 10) | (head == 13) | (head == 32) | (head == 9))
        )
        self._utf8: bool | None = None
        self._split: _Split | None = None
        self.parsed: pa.Table | None = None  # set by the parser

    @property
    def split(self) -> _Split:
        if self._split is None:
            self._split = _split(self.data.tobytes(), self.first_line)
        return self._split

    @property
    def bad_utf8(self) -> list[tuple[int, str]]:
        """Lines that are not UTF-8 (known once the chunk was split; a valid chunk never is)."""
        return self._split.bad_utf8 if self._split is not None else []

    def line_numbers_at(self, positions: np.ndarray) -> np.ndarray:
        if self._split is None:
            return positions.astype(np.int64) + self.first_line
        return self.split.line_numbers[positions]

    def raw_at(self, positions: np.ndarray) -> list[str]:
        """The text of the lines at `positions`, without their line ending."""
        taken = self.split.lines.take(pa.array(positions, pa.int64()))
        return [text.rstrip("\r\n") for text in taken.to_pylist()]

    def utf8_valid(self) -> bool:
        if self._split is not None:
            return not self._split.bad_utf8
        if self._utf8 is None:
            self._utf8 = utf8_valid(self.body)
        return self._utf8


@dataclass
class _Split:
    body: pa.Buffer  # the valid UTF-8 lines, in order
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


def _cut_after_last_newline(data: np.ndarray) -> int | None:
    """Where a block of JSON lines ends: after its last newline (None: no newline yet)."""
    window = min(len(data), 1 << 20)
    tail = np.flatnonzero(data[len(data) - window :] == 10)
    if len(tail):
        return len(data) - window + int(tail[-1]) + 1
    newlines = np.flatnonzero(data == 10)
    return int(newlines[-1]) + 1 if len(newlines) else None


def read_blocks(
    stream,
    path: Path,
    chunk_bytes: int,
    compression: str | None,
    cut: Callable[[np.ndarray], int | None],
    digest=None,
) -> Iterator[tuple[np.ndarray, bool]]:
    """Blocks of about `chunk_bytes` of a stream, each ending where `cut` says (a record
    boundary), as (uint8 array, at_end). Each block gets a fresh buffer: the unfinished tail of
    the previous read is copied to its front and the stream reads straight into the rest, so no
    block is copied twice. A leading UTF-8 BOM is dropped. `digest` (a hashlib object), when
    given, is fed every byte the stream yields, BOM included, as it is read."""
    carry = np.empty(0, dtype=np.uint8)
    first = True
    while True:
        size = max(chunk_bytes, 2 * len(carry))
        # From Arrow's memory pool, which keeps freed pages for the next block: a fresh
        # numpy buffer per block costs the kernel about a second of page mapping per 1.5 GB.
        buf = np.frombuffer(pa.allocate_buffer(len(carry) + size), dtype=np.uint8)
        buf[: len(carry)] = carry
        try:
            got = stream.readinto(memoryview(buf)[len(carry) :])
        except OSError as exc:
            what = "is corrupt or truncated" if compression else "cannot be read"
            tool = "gzip -t" if compression == "gzip" else "zstd -t"
            fix = f"Re-export or re-download it (check it with `{tool}`)." if compression else "Check the file and the disk."
            raise InputError(str(path), f"{what} ({exc})", fix) from exc
        data = buf[: len(carry) + got]
        if digest is not None and got:
            digest.update(memoryview(buf)[len(carry) : len(carry) + got])
        if first:
            first = False
            if bytes(data[: len(BOM)]) == BOM:
                data = data[len(BOM) :]
        if got == 0:
            if len(data):
                yield data, True
            return
        end = cut(data)
        if end is None:
            carry = data.copy()
            continue
        carry = data[end:].copy()
        yield data[:end], False


def utf8_valid(data: np.ndarray | pa.Buffer) -> bool:
    """Whether the bytes are valid UTF-8 (Arrow's vectorised check, no copy)."""
    body = data if isinstance(data, pa.Buffer) else pa.py_buffer(data)
    whole = pa.Array.from_buffers(pa.large_binary(), 1, [None, pa.py_buffer(np.array([0, body.size], dtype=np.int64)), body])
    try:
        whole.cast(pa.large_string())
        return True
    except pa.ArrowInvalid:
        return False


def hashes_while_reading(path: Path) -> bool:
    """Whether `iter_chunks(path, digest=...)` can hash the file as stored: a plain JSONL file,
    whose bytes are exactly what the reader sees."""
    return input_kind(path) == ("jsonl", None)


def iter_chunks(path: Path, chunk_bytes: int = DEFAULT_CHUNK_BYTES, digest=None) -> Iterator[LineChunk]:
    """Stream the lines of `path` in chunks; raises InputError on a corrupt or unreadable file.
    `digest` (hashlib) is fed the file's bytes as they are read; only for files where
    `hashes_while_reading(path)`."""
    kind = input_kind(path)
    if digest is not None and not hashes_while_reading(path):
        raise ValueError(f"{path}: its stored bytes are not what the reader sees; hash it with sha256_of")
    if kind and kind[0] == "csv":
        from pipeline.csv_import import iter_csv_chunks

        yield from iter_csv_chunks(path, chunk_bytes)
        return
    compression = kind[1] if kind else None
    stream = _open(path, compression)
    next_line = 1
    try:
        for data, _at_end in read_blocks(stream, path, chunk_bytes, compression, _cut_after_last_newline, digest):
            chunk = LineChunk(data, next_line)
            next_line += chunk.count
            yield chunk
    finally:
        stream.close()


def _newlines(data: np.ndarray, step: int = 1 << 20) -> np.ndarray:
    """Positions of the LF bytes, found a slice at a time: a small comparison buffer stays in
    the CPU cache instead of one the size of the block."""
    if len(data) <= step:
        return np.flatnonzero(data == 10)
    parts = [np.flatnonzero(data[i : i + step] == 10) + i for i in range(0, len(data), step)]
    return np.concatenate(parts)


def _split(body: bytes, first_line: int) -> _Split:
    raw = np.frombuffer(body, dtype=np.uint8)
    newlines = _newlines(raw)
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
    return _Split(buf, offsets, lines, numbers, _blank(raw, offsets), [])


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


def _split_slow(body: bytes, offsets: np.ndarray, numbers: np.ndarray) -> _Split:
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
    return _Split(
        pa.py_buffer(joined),
        new_offsets,
        pa.array(good, pa.string()),
        np.array(good_numbers, dtype=np.int64),
        _blank(np.frombuffer(joined, dtype=np.uint8), new_offsets),
        bad,
    )
