"""The pandera schema generated from the field table, and the reasons it gives for each row.

Every value rule of the table lives here: dtype and nullability of each column, non-empty
strings, numbers >= 0, finite floats, and the same rules for each provider attempt. The reader
(`parse.py`) has already checked JSON types; this schema judges the typed batch, collecting every
failure at once (`lazy=True`) so that each bad row can be quarantined with all of its reasons.
"""

from __future__ import annotations

import functools
import sys

import polars as pl

from pipeline.schema.table import Field, FieldTable, load_table


def _import_pandera_polars():
    """`pandera.polars`, without pandera importing `pyspark.pandas` on the way: when pyspark is
    installed (the extra `orusage[spark]`), pandera's package import loads it (seconds, and a
    warning under pandas 3), and the ingest uses none of it. A None entry in sys.modules makes
    that one import fail, which pandera expects; the entry is removed afterwards."""
    blocked = "pyspark.pandas" not in sys.modules
    if blocked:
        sys.modules["pyspark.pandas"] = None
    try:
        import pandera.polars
    finally:
        if blocked and sys.modules.get("pyspark.pandas", False) is None:
            del sys.modules["pyspark.pandas"]
    return pandera.polars


pa = _import_pandera_polars()

_POLARS_SCALARS = {
    "string": pl.String,
    "int": pl.Int64,
    "float": pl.Float64,
    "bool": pl.Boolean,
    "timestamp": pl.Datetime("us", "UTC"),
}


def polars_dtype(field: Field, table: FieldTable) -> pl.DataType:
    if field.type == "provider_responses":
        return pl.List(pl.Struct({f.name: _POLARS_SCALARS[f.type] for f in table.attempt_fields}))
    return _POLARS_SCALARS[field.type]


def _finite(data: pa.PolarsData) -> pl.LazyFrame:
    return data.lazyframe.select(pl.col(data.key).is_finite() | pl.col(data.key).is_null())


def _attempts_all(data: pa.PolarsData, rule: pl.Expr) -> pl.LazyFrame:
    ok = pl.col(data.key).list.eval(rule.fill_null(True)).list.all()
    return data.lazyframe.select(ok.fill_null(True))


def _checks(field: Field, table: FieldTable) -> list[pa.Check]:
    checks: list[pa.Check] = []
    if field.nonempty:
        checks.append(pa.Check.str_length(min_value=1, error="must be a non-empty string"))
    if field.ge0:
        checks.append(pa.Check.ge(0, error="must be >= 0"))
    if field.type == "float":
        checks.append(pa.Check(_finite, name="finite", error="must be a finite number"))
    if field.type == "provider_responses":
        for member in table.attempt_fields:
            value = pl.element().struct.field(member.name)
            if member.ge0:
                checks.append(
                    pa.Check(
                        functools.partial(_attempts_all, rule=value >= 0),
                        name=f"{member.name} >= 0",
                        error=f"[].{member.name} must be >= 0",
                    )
                )
            if member.type == "float":
                checks.append(
                    pa.Check(
                        functools.partial(_attempts_all, rule=value.is_finite()),
                        name=f"{member.name} finite",
                        error=f"[].{member.name} must be a finite number",
                    )
                )
    return checks


@functools.cache
def pandera_schema(table: FieldTable | None = None) -> pa.DataFrameSchema:
    table = table or load_table()
    columns = {
        f.name: pa.Column(polars_dtype(f, table), checks=_checks(f, table), nullable=f.nullable, description=f.description)
        for f in table.fields
    }
    return pa.DataFrameSchema(columns, strict=True, ordered=True, coerce=False, name="generation")


def failure_reasons(frame: pl.DataFrame, table: FieldTable | None = None) -> dict[int, list[str]]:
    """Row position -> reasons, for every row of `frame` that fails the pandera schema."""
    table = table or load_table()
    try:
        pandera_schema(table).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return {}
    reasons: dict[int, list[str]] = {}
    unplaced = []
    for row in cases.iter_rows(named=True):
        column, check, case, index = row["column"], row["check"], row["failure_case"], row["index"]
        text = _describe(column, check)
        if check != "not_nullable" and not check.startswith("[].") and case is not None and len(str(case)) <= 200:
            text += f" (got {case})" if case != "" else " (got '')"
        if index is None:
            unplaced.append(text)
            continue
        reasons.setdefault(int(index), []).append(text)
    for row, texts in reasons.items():
        # pandera counts NaN as null in a float column; a NaN is reported as not finite instead.
        not_finite = {t.split(":", 1)[0] for t in texts if "must be a finite number" in t}
        reasons[row] = [t for t in texts if not (t.endswith(": must not be null") and t.split(":", 1)[0] in not_finite)]
    if unplaced:
        # A schema-level failure (a column's dtype) means the reader and the table disagree:
        # a bug, not bad input. Never let it pass silently.
        raise RuntimeError("typed batch does not match the declared schema: " + "; ".join(unplaced))
    return reasons


def _describe(column: str, check: str) -> str:
    """`field: rule` for a pandera failure; attempt rules name the member (`provider_responses[].status`)."""
    if check == "not_nullable":
        return f"{column}: must not be null"
    if check.startswith("[]."):
        member, _, rule = check[3:].partition(" ")
        return f"{column}[].{member}: {rule}"
    return f"{column}: {check}"
