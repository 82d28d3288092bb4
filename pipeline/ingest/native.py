"""The native fast path of the parse: `jsonl_native.so`, a C++ extension on simdjson's On-Demand API.

`make venv` (and every target that ingests) builds it beside this file when g++ and simdjson are
installed (`jsonl_native.cpp`; see the README). It takes a block of JSON lines and returns the
typed columns of the lines it accepts, and the indexes of those it refuses; it accepts a line
only when the strict path would accept it unchanged, so refused lines (only they) go to the
strict path, which gives the reasons and keeps unknown keys. The columns come as buffers filled
in C++ and wrapped by Arrow without a copy; the parse runs without the GIL.

`ORUSAGE_PARSER` chooses the parser: `auto` (the default: native when the extension imports,
else Arrow's JSON reader), `native` (an error when it is not built) or `arrow`.
"""

from __future__ import annotations

import importlib
import os

import numpy as np
import pyarrow as pa

from pipeline.errors import OrusageError
from pipeline.schema.table import FieldTable, attempt_arrow_type, record_arrow_schema

PARSERS = ("auto", "native", "arrow")
_KINDS = {"string": 0, "int": 1, "float": 2, "bool": 3, "timestamp": 4, "provider_responses": 5}


class ParserUnavailable(OrusageError):
    """ORUSAGE_PARSER asks for a parser that cannot run here."""


def load_extension():
    """The compiled module, or None when it is not built (or does not load)."""
    try:
        return importlib.import_module("pipeline.ingest.jsonl_native")
    except ImportError:
        return None


def chosen_parser() -> str:
    """`native` or `arrow`, as ORUSAGE_PARSER and the presence of the extension decide."""
    wanted = os.environ.get("ORUSAGE_PARSER", "auto").strip().lower() or "auto"
    if wanted not in PARSERS:
        raise ParserUnavailable(
            f"ORUSAGE_PARSER={wanted!r} is not a parser",
            "Set it to auto, native or arrow (or unset it).",
        )
    if wanted == "arrow":
        return "arrow"
    if load_extension() is not None:
        return "native"
    if wanted == "native":
        raise ParserUnavailable(
            "ORUSAGE_PARSER=native, but the native parser (pipeline/ingest/jsonl_native.so) is not built",
            "Install g++ and simdjson (README: Performance) and run `make venv`, or set ORUSAGE_PARSER=auto.",
        )
    return "arrow"


class NativeParser:
    """Types blocks of lines with the extension; one block at a time per instance."""

    def __init__(self, table: FieldTable, schema: pa.Schema):
        module = load_extension()
        if module is None:
            raise ParserUnavailable("the native parser is not built", "Run `make venv` with g++ and simdjson installed.")
        self.table = table
        self.schema = schema
        top = [(f.name, _KINDS[f.type], f.nullable, f.absent_ok) for f in table.fields]
        attempts = [(f.name, _KINDS[f.type], True, True) for f in table.attempt_fields]
        self.impl = module.Parser(top, attempts)
        self.record = record_arrow_schema(table)
        self.attempt_type = attempt_arrow_type(table)

    def parse(self, body: pa.Buffer) -> tuple[pa.Table, np.ndarray]:
        """(typed rows of the accepted lines, `pos` = index of the line in `body`; indexes of
        the refused lines). Lines are split at LF; an empty or blank line is refused."""
        out = self.impl.parse(body)
        rows = out["rows"]
        accepted = pa.py_buffer(out["accepted"])
        refused = np.frombuffer(out["refused"], dtype=np.int64)
        members = [
            _array(field.type, out["attempt_rows"], column)
            for field, column in zip(self.attempt_type, out["attempts"], strict=True)
        ]
        arrays = [pa.Array.from_buffers(pa.int64(), rows, [None, accepted])]
        for field, column in zip(self.record, out["columns"], strict=True):
            if isinstance(field.type, pa.ListType):
                nulls, validity, offsets, _ = column
                struct = pa.StructArray.from_arrays(members, fields=list(self.attempt_type))
                arrays.append(pa.Array.from_buffers(field.type, rows, [_buf(validity), _buf(offsets)], nulls, children=[struct]))
            else:
                arrays.append(_array(field.type, rows, column))
        arrays.append(pa.nulls(rows, pa.string()))
        arrays.append(pa.nulls(rows, pa.list_(pa.string())))
        arrays.append(pa.nulls(rows, pa.list_(pa.string())))
        return pa.Table.from_arrays(arrays, schema=self.schema), refused


def _buf(obj) -> pa.Buffer | None:
    return None if obj is None else pa.py_buffer(obj)


def _array(kind: pa.DataType, length: int, column: tuple) -> pa.Array:
    nulls, validity, first, second = column
    buffers = [_buf(validity), _buf(first)]
    if second is not None:
        buffers.append(_buf(second))
    return pa.Array.from_buffers(kind, length, buffers, nulls)
