"""Which input files a run reads, and the reader each one gets.

`discover` finds the supported files of the paths given (JSON lines, plain or compressed, and
the dashboard's CSV export, recognised by its header) and says why it left the others out;
`iter_chunks` streams any of them as chunks of JSON lines (`read` for JSON lines, `csv_import`
for the CSV, which turns each record into the line the API would have written)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from pipeline.errors import InputError
from pipeline.sources.csv_import import is_dashboard_csv, iter_csv_chunks
from pipeline.sources.read import DEFAULT_CHUNK_BYTES, MAX_LINE_BYTES, LineChunk, input_kind, iter_jsonl_chunks


def discover(paths: list[Path], ignored: list[tuple[Path, str]] | None = None) -> list[Path]:
    """Files to ingest: each path given, and every supported file under a directory, sorted.

    A named file must exist and have a supported suffix; a directory contributes its supported
    files recursively (hidden files and folders are left out). A .csv file is an input only when
    its header is the dashboard export's: named, another CSV is an error; in a directory it is
    left out like any other unsupported file. The files of a directory that were left out are
    added to `ignored`, when given, as (path, reason)."""
    ignored = [] if ignored is None else ignored
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise InputError(str(path), "no such file or directory", "Check the path and try again.")
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                ignored.extend((Path(root) / d, "hidden folder") for d in sorted(dirs) if d.startswith("."))
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    candidate = Path(root) / name
                    kind = input_kind(candidate)
                    if name.startswith("."):
                        ignored.append((candidate, "hidden file"))
                    elif not kind:
                        ignored.append((candidate, "unsupported file type"))
                    elif kind[0] == "csv" and not is_dashboard_csv(candidate):
                        ignored.append((candidate, "CSV that is not a dashboard export"))
                    else:
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


def describe_ignored(ignored: list[tuple[str, str]]) -> str:
    """`3 left out: 2 unsupported file type (a.txt, b.parquet); 1 hidden file (.x)` from (name,
    reason) pairs: the files a directory held that `discover` left out."""
    if not ignored:
        return "no files found"
    by_reason: dict[str, list[str]] = {}
    for name, reason in ignored:
        by_reason.setdefault(reason, []).append(name)
    parts = []
    for reason, names in by_reason.items():
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        parts.append(f"{len(names)} {reason} ({shown})")
    return f"{len(ignored)} left out: " + "; ".join(parts)


def iter_chunks(
    path: Path, chunk_bytes: int = DEFAULT_CHUNK_BYTES, digest=None, max_line: int = MAX_LINE_BYTES
) -> Iterator[LineChunk]:
    """The lines of any supported file, in chunks (see `read.iter_jsonl_chunks`); a dashboard
    CSV export as the JSON lines of its records."""
    kind = input_kind(path)
    if kind and kind[0] == "csv":
        yield from iter_csv_chunks(path, chunk_bytes)
        return
    yield from iter_jsonl_chunks(path, chunk_bytes, digest, max_line)
