"""The field table (`schemas/generation.toml`) and everything generated from it.

The table is the one declaration of a record's shape. This module turns it into the Arrow schema
of the lake, the DuckDB column types, the pandera schema that validates a typed batch, and the
Markdown field table of the docs. Nothing here knows about files, runs or the CLI.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pyarrow is imported where an Arrow type is built: `orusage sql` starts without it
    import pyarrow as pa

SCALAR_TYPES = ("string", "int", "float", "bool", "timestamp")


def resource_dir(name: str) -> Path:
    """Directory of a top-level resource (`schemas`, `sql`) in a checkout or an installed wheel."""
    here = Path(__file__).resolve().parents[1]  # the package root, pipeline/
    for candidate in (here.parent / name, here / f"_{name}"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"resource directory {name!r} not found beside {here}")


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    nullable: bool
    absent_ok: bool
    description: str
    since: str | None = None
    checks: tuple[str, ...] = ()
    enum: tuple[str, ...] | None = None  # an open enum's known values
    high_cardinality: bool = False  # storage hint: no Parquet dictionary encoding

    @property
    def nonempty(self) -> bool:
        return "nonempty" in self.checks

    @property
    def ge0(self) -> bool:
        return "ge0" in self.checks


@dataclass(frozen=True)
class FieldTable:
    fields: tuple[Field, ...]
    attempt_fields: tuple[Field, ...]
    lineage_fields: tuple[Field, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        for f in self.fields + self.lineage_fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def enum_fields(self) -> tuple[tuple[str, Field], ...]:
        """(path, field) of every open enum: top-level ones and attempt fields."""
        out = [(f.name, f) for f in self.fields if f.enum]
        out += [(f"provider_responses[].{f.name}", f) for f in self.attempt_fields if f.enum]
        return tuple(out)


def _field(raw: dict, *, nullable: bool | None = None, absent_ok: bool | None = None) -> Field:
    checks, enum = [], None
    for check in raw.get("checks", []):
        if isinstance(check, dict) and set(check) == {"open_enum"}:
            enum = tuple(check["open_enum"])
        elif check in ("nonempty", "ge0"):
            checks.append(check)
        else:
            raise ValueError(f"field {raw['name']}: unknown check {check!r}")
    return Field(
        name=raw["name"],
        type=raw["type"],
        nullable=raw["nullable"] if nullable is None else nullable,
        absent_ok=raw["absent_ok"] if absent_ok is None else absent_ok,
        description=raw["description"],
        since=raw.get("since"),
        checks=tuple(checks),
        enum=enum,
        high_cardinality=raw.get("high_cardinality", False),
    )


@functools.cache
def load_table(path: Path | None = None) -> FieldTable:
    path = path or resource_dir("schemas") / "generation.toml"
    raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    fields = tuple(_field(f) for f in raw["field"])
    attempts = tuple(_field(f, nullable=True, absent_ok=True) for f in raw["attempt_field"])
    lineage = tuple(_field(f, absent_ok=False) for f in raw["lineage_field"])
    for f in fields + attempts + lineage:
        if f.type not in SCALAR_TYPES and f.type != "provider_responses":
            raise ValueError(f"field {f.name}: unknown type {f.type!r}")
        if not f.nullable and f.absent_ok:
            raise ValueError(f"field {f.name}: a non-nullable field cannot be absent")
    return FieldTable(fields, attempts, lineage)


# --- Arrow -------------------------------------------------------------------------------------


@functools.cache
def _arrow_scalars() -> dict[str, pa.DataType]:
    import pyarrow as pa

    return {
        "string": pa.string(),
        "int": pa.int64(),
        "float": pa.float64(),
        "bool": pa.bool_(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }


def attempt_arrow_type(table: FieldTable | None = None) -> pa.DataType:
    import pyarrow as pa

    table = table or load_table()
    return pa.struct([pa.field(f.name, _arrow_scalars()[f.type], nullable=True) for f in table.attempt_fields])


def arrow_type(field: Field, table: FieldTable | None = None) -> pa.DataType:
    import pyarrow as pa

    if field.type == "provider_responses":
        return pa.list_(pa.field("item", attempt_arrow_type(table), nullable=True))
    return _arrow_scalars()[field.type]


def record_arrow_schema(table: FieldTable | None = None) -> pa.Schema:
    """The typed record alone (what validation produces), without lineage."""
    import pyarrow as pa

    table = table or load_table()
    return pa.schema([pa.field(f.name, arrow_type(f, table), nullable=f.nullable) for f in table.fields])


def lake_arrow_schema(table: FieldTable | None = None) -> pa.Schema:
    """The declared schema of every Parquet file under `<lake>/generations/`."""
    import pyarrow as pa

    table = table or load_table()
    lineage = [pa.field(f.name, arrow_type(f, table), nullable=f.nullable) for f in table.lineage_fields]
    return pa.schema(list(record_arrow_schema(table)) + lineage)


def dictionary_columns(table: FieldTable | None = None) -> list[str]:
    """Lake columns worth Parquet dictionary encoding: strings with repeated values."""
    table = table or load_table()
    return [
        f.name
        for f in table.fields + table.lineage_fields
        if f.type == "string" and not f.high_cardinality and f.name != "_extra"
    ]


# --- DuckDB ------------------------------------------------------------------------------------

_DUCKDB_SCALARS = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
}


def attempt_duckdb_type(table: FieldTable | None = None) -> str:
    table = table or load_table()
    members = ", ".join(f'"{f.name}" {_DUCKDB_SCALARS[f.type]}' for f in table.attempt_fields)
    return f"STRUCT({members})"


def duckdb_type(field: Field, table: FieldTable | None = None) -> str:
    if field.type == "provider_responses":
        return attempt_duckdb_type(table) + "[]"
    return _DUCKDB_SCALARS[field.type]


def duckdb_columns(table: FieldTable | None = None, *, lineage: bool = False) -> dict[str, str]:
    """Column name -> DuckDB type, in table order (the `columns=` of `read_json`)."""
    table = table or load_table()
    fields = table.fields + (table.lineage_fields if lineage else ())
    return {f.name: duckdb_type(f, table) for f in fields}


# --- Docs --------------------------------------------------------------------------------------


def _type_label(field: Field) -> str:
    if field.type == "provider_responses":
        return "list<struct>"
    return str(_arrow_scalars()[field.type])


def _checks_label(field: Field) -> str:
    parts = []
    if field.nonempty:
        parts.append("non-empty")
    if field.ge0:
        parts.append(">= 0")
    if field.type == "float":
        parts.append("finite")
    if field.enum:
        parts.append("open enum: " + ", ".join(f"`{v}`" for v in field.enum))
    return "; ".join(parts)


def render_markdown(table: FieldTable | None = None) -> str:
    """The field table of the docs (`docs/fields.md`), generated; `make docs` rewrites it."""
    table = table or load_table()
    lines = [
        "# Field table",
        "",
        "Generated from `schemas/generation.toml` by `make docs`; do not edit by hand.",
        "",
        "## Record fields",
        "",
        "| field | type | nullable | key may be absent | checks | since | description |",
        "|---|---|---|---|---|---|---|",
    ]
    lines.extend(
        f"| `{f.name}` | {_type_label(f)} | {'yes' if f.nullable else 'no'} | "
        f"{'yes' if f.absent_ok else 'no'} | {_checks_label(f)} | {f.since or ''} | {f.description} |"
        for f in table.fields
    )
    lines += [
        "",
        "## Provider attempts (`provider_responses[]`)",
        "",
        "Every member is nullable and may be absent.",
        "",
        "| field | type | checks | description |",
        "|---|---|---|---|",
    ]
    for f in table.attempt_fields:
        lines.append(f"| `{f.name}` | {_type_label(f)} | {_checks_label(f)} | {f.description} |")
    lines += [
        "",
        "## Lineage columns (added by the pipeline)",
        "",
        "| column | type | nullable | description |",
        "|---|---|---|---|",
    ]
    for f in table.lineage_fields:
        lines.append(f"| `{f.name}` | {_type_label(f)} | {'yes' if f.nullable else 'no'} | {f.description} |")
    return "\n".join(lines) + "\n"
