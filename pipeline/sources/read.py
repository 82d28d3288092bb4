"""Input files -> chunks of raw lines, streamed in bounded memory.

A file is read as a byte stream (plain, gzip or zstd, decompressed by Arrow's C++ codecs), cut
into blocks of about `chunk_bytes` at line boundaries, and each block becomes an Arrow string
array of its lines, built over the block's own buffer (no copy per line). Line numbers are
physical: blank lines count, so a quarantined row's line number points at the file as it is.
Only a block that is not valid UTF-8 is split line by line in Python, to isolate the bad lines.
"""

from __future__ import annotations

import hashlib
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
# A record is about 1.5 KB; a line beyond this is not a record of the API. It is quarantined
# without being parsed (parsing costs many times its size in memory), keeping its first
# LONG_LINE_KEEP bytes as its raw text, and the reader skips the rest without holding it.
MAX_LINE_BYTES = 1024 * 1024
LONG_LINE_KEEP = 64 * 1024
# How much of a file's start is looked at to tell text from a binary file.
SNIFF_BYTES = 4096


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

    too_long: tuple = ()  # (line number, size in bytes, raw text kept) of lines over the limit

    def __init__(self, data: np.ndarray, first_line: int, newlines: np.ndarray | None = None):
        self.data = data  # uint8 view of the chunk's bytes
        self.body = pa.py_buffer(data)  # zero-copy view for Arrow
        self.first_line = first_line
        if newlines is None:
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


def open_stream(path: Path, compression: str | None):
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


@dataclass
class LongLine:
    """A line longer than the limit, read past without being held: its size and first bytes."""

    size: int  # bytes, without the line ending
    head: bytes


def _read_into(stream, view: memoryview, path: Path, compression: str | None) -> int:
    try:
        return stream.readinto(view)
    except OSError as exc:
        what = "is corrupt or truncated" if compression else "cannot be read"
        tool = "gzip -t" if compression == "gzip" else "zstd -t"
        fix = f"Re-export or re-download it (check it with `{tool}`)." if compression else "Check the file and the disk."
        raise InputError(str(path), f"{what} ({exc})", fix) from exc


def read_blocks(
    stream,
    path: Path,
    chunk_bytes: int,
    compression: str | None,
    cut: Callable[[np.ndarray], int | None],
    digest=None,
    max_line: int | None = None,
) -> Iterator[tuple[np.ndarray | LongLine, bool]]:
    """Blocks of about `chunk_bytes` of a stream, each ending where `cut` says (a record
    boundary), as (uint8 array, at_end). Each block gets a fresh buffer: the unfinished tail of
    the previous read is copied to its front and the stream reads straight into the rest, so no
    block is copied twice. A leading UTF-8 BOM is dropped. `digest` (a hashlib object), when
    given, is fed every byte the stream yields, BOM included, as it is read.

    With `max_line`, an unfinished line that grows beyond it (no newline in a whole block) is
    not buffered further: the stream is read on to the line's end, and the line comes out as a
    `LongLine` in place of a block, so memory stays bounded whatever the input."""
    carry = np.empty(0, dtype=np.uint8)
    first = True
    while True:
        size = max(chunk_bytes, 2 * len(carry))
        # From Arrow's memory pool: its default (mimalloc) keeps freed pages for the next block,
        # where a fresh numpy buffer per block cost the kernel about a second of page mapping
        # per 1.5 GB. (An ingest sets the system allocator, which measured no slower, for memory.)
        buf = np.frombuffer(pa.allocate_buffer(len(carry) + size), dtype=np.uint8)
        buf[: len(carry)] = carry
        got = _read_into(stream, memoryview(buf)[len(carry) :], path, compression)
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
            if max_line is not None and len(data) > max_line:
                head = data[:LONG_LINE_KEEP].tobytes()
                length, carry, at_end = _skip_line(stream, path, compression, digest, len(data), chunk_bytes)
                yield LongLine(length, head), at_end
                if at_end:
                    return
                continue
            carry = data.copy()
            continue
        carry = data[end:].copy()
        yield data[:end], False


def _skip_line(stream, path: Path, compression: str | None, digest, seen: int, step: int) -> tuple[int, np.ndarray, bool]:
    """Read on to the end of a line of which `seen` bytes were read; returns its length, the
    bytes after its newline, and whether the stream ended inside the line."""
    buf = np.empty(step, dtype=np.uint8)
    while True:
        got = _read_into(stream, memoryview(buf), path, compression)
        if digest is not None and got:
            digest.update(memoryview(buf)[:got])
        if got == 0:
            return seen, np.empty(0, dtype=np.uint8), True
        newline = np.flatnonzero(buf[:got] == 10)
        if len(newline):
            end = int(newline[0])
            return seen + end, buf[end + 1 : got].copy(), False
        seen += got


def looks_binary(head: bytes) -> bool:
    """Whether the first bytes of a file are not text: a NUL byte, or more than one in ten
    characters undecodable as UTF-8 or control characters (a text file in another encoding
    has a few bad bytes, and goes line by line to the quarantine instead)."""
    if b"\0" in head:
        return True
    text = head.decode("utf-8", errors="replace")
    odd = sum(1 for ch in text if ch == "\ufffd" or (ch < " " and ch not in "\t\n\r\f"))
    return odd > len(text) / 10


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


def iter_jsonl_chunks(
    path: Path, chunk_bytes: int = DEFAULT_CHUNK_BYTES, digest=None, max_line: int = MAX_LINE_BYTES
) -> Iterator[LineChunk]:
    """Stream the lines of a JSON lines file in chunks; raises InputError on a corrupt, unreadable or binary
    file. `digest` (hashlib) is fed the file's bytes as they are read; only for files where
    `hashes_while_reading(path)`. A line longer than `max_line` bytes comes as a chunk of its
    own with no bytes (see `LineChunk.too_long`)."""
    kind = input_kind(path)
    if digest is not None and not hashes_while_reading(path):
        raise ValueError(f"{path}: its stored bytes are not what the reader sees; hash it with sha256_of")
    compression = kind[1] if kind else None
    stream = open_stream(path, compression)
    next_line = 1
    blocks = read_blocks(stream, path, chunk_bytes, compression, _cut_after_last_newline, digest, max_line)
    try:
        for data, _at_end in blocks:
            if next_line == 1 and not isinstance(data, LongLine) and looks_binary(data[:SNIFF_BYTES].tobytes()):
                raise InputError(
                    str(path),
                    "is not a text file (its first bytes are binary)",
                    "Give JSON lines exports of generation records; remove this file from the input.",
                )
            for chunk in _cut_long_lines(data, next_line, max_line):
                next_line += chunk.count + len(chunk.too_long)
                yield chunk
    finally:
        blocks.close()
        stream.close()


def _cut_long_lines(data: np.ndarray | LongLine, first_line: int, max_line: int) -> Iterator[LineChunk]:
    """The block as chunks, each line longer than `max_line` set apart in a chunk of its own
    that holds no bytes, only the line's number, size and first bytes (in `too_long`)."""
    if isinstance(data, LongLine):
        yield _long_line_chunk(first_line, data.size, data.head)
        return
    newlines = _newlines(data)
    ends = np.append(newlines, len(data)) if len(data) and data[-1] != 10 else newlines
    starts = np.concatenate(([0], newlines + 1))[: len(ends)]
    long = np.flatnonzero(ends - starts > max_line)
    if len(long) == 0:
        yield LineChunk(data, first_line, newlines)
        return
    at = 0  # first line (index in the block) not yet handed on
    for i in long.tolist():
        if i > at:
            piece = data[starts[at] : starts[i]]
            yield LineChunk(piece, first_line + at)
        yield _long_line_chunk(first_line + i, int(ends[i] - starts[i]), data[starts[i] : starts[i] + LONG_LINE_KEEP].tobytes())
        at = i + 1
    if at < len(ends):
        yield LineChunk(data[starts[at] :], first_line + at)


def _long_line_chunk(number: int, size: int, head: bytes) -> LineChunk:
    chunk = LineChunk(np.empty(0, dtype=np.uint8), number)
    text = head.decode("utf-8", errors="replace").rstrip("\r\n")
    chunk.too_long = ((number, size, text),)
    return chunk


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
