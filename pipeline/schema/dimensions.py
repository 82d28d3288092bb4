"""The report's dimensions, declared once: the fields `orusage report` groups and filters on.

Everything else about a dimension derives from this list and from the field's entry in the field
table (`schemas/generation.toml`): the `--by` and `--where` checks and help, the label columns of
the view `generation_labels` and the table macro `labelled_generations` (both built here, for
pipeline/lake/views.py), the dimension columns of the report and the page, and the list of dimensions
in docs/report.md (`make docs`; a test fails when it drifts).

A label is the value as text: '(null)' for a null value, '(empty)' for an empty string, and a
value that is itself one of the labels, or that starts and ends with a double quote, between
double quotes ('"(null)"'), so that distinct values have distinct labels. A field of type int or
bool is its value as text, or '(null)'.

Adding a dimension: add it to DIMENSIONS below (the field must be in the field table), then run
`make docs`.

Nothing here imports pyarrow or duckdb: the CLI reads the list at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

# Labels of values that are not plain text (the SQL built here, the report and the docs use them).
NULL_LABEL, EMPTY_LABEL, OTHER_LABEL = "(null)", "(empty)", "(other)"
QUOTE = '"'
MAX_DIMS = 4  # the slots d1..d4 of labelled_generations, dim1..dim4 of sql/report.sql


@dataclass(frozen=True)
class Dimension:
    name: str  # a field of the field table
    default: bool = False  # part of the default --by
    rollup: bool = False  # a column of the daily rollup (sql/rollup_daily.sql groups by it)


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("model", default=True, rollup=True),
    Dimension("provider_name", default=True, rollup=True),
    Dimension("data_region", default=True, rollup=True),
    Dimension("app_id", default=True),  # not in the rollup: apps multiply its rows (make bench measures it)
    Dimension("api_type"),
    Dimension("external_user"),
    Dimension("is_byok"),
    Dimension("finish_reason"),
    Dimension("service_tier"),
    Dimension("workspace_id"),
    Dimension("origin"),
    Dimension("router"),
)


def names() -> tuple[str, ...]:
    """Every dimension, in the order of DIMENSIONS."""
    return tuple(d.name for d in DIMENSIONS)


def default_names() -> tuple[str, ...]:
    """The dimensions of the default --by."""
    return tuple(d.name for d in DIMENSIONS if d.default)


def rollup_names() -> tuple[str, ...]:
    """The dimensions of the daily rollup: a report on these alone can be added up from it."""
    return tuple(d.name for d in DIMENSIONS if d.rollup)


def listing() -> str:
    """The dimensions as a comma-separated list, for help and error messages."""
    return ", ".join(names())


# --- SQL, built from the list and the field table ------------------------------------------------


def _field_type(name: str) -> str:
    from pipeline.schema.table import load_table

    return load_table().field(name).type


def label_expression(name: str) -> str:
    """The SQL expression of the label of dimension `name` (a field name: never user input)."""
    if _field_type(name) in ("int", "bool"):
        return f"coalesce(cast({name} as varchar), '{NULL_LABEL}')"
    looks_like_label = ", ".join(f"'{label}'" for label in (NULL_LABEL, EMPTY_LABEL, OTHER_LABEL))
    return (
        f"case when {name} is null then '{NULL_LABEL}' when {name} = '' then '{EMPTY_LABEL}'\n"
        f"        when {name} in ({looks_like_label}) or {name} like '\"%\"' then '\"' || {name} || '\"'\n"
        f"        else {name} end"
    )


def generation_labels_sql() -> str:
    """The view generation_labels: every generation with one VARCHAR label per dimension."""
    columns = ",\n".join(f"    {label_expression(name)} as {name}_label" for name in names())
    return (
        "-- generation_labels: every generation with each report dimension as a text label\n"
        "-- (<dimension>_label), built from pipeline/schema/dimensions.py.\n"
        "-- Grain     one row per generation `id`, as generations.\n"
        "-- Params    none.\n"
        "create or replace view generation_labels as\n"
        f"select\n    *,\n{columns}\nfrom generations;\n"
    )


def _labelled_macro(macro: str, source: str, names_: tuple[str, ...]) -> str:
    slots = []
    for slot in range(1, MAX_DIMS + 1):
        cases = "\n".join(f"            when '{name}' then {name}_label" for name in names_)
        slots.append(f"        case dims[{slot}]\n{cases}\n        end as d{slot}")
    kept = "\n        and ".join(
        f"(not map_contains(filters, '{name}') or list_contains(filters['{name}'], {name}_label))" for name in names_
    )
    return (
        f"-- {macro}(dims, filters): {source} filtered on labels, with the\n"
        "-- labels of the dimensions dims[1..4] in slots d1..d4; built from pipeline/schema/dimensions.py.\n"
        f"create or replace macro {macro}(dims, filters) as table\n"
        "    select\n        *,\n" + ",\n".join(slots) + f"\n    from {source}\n"
        f"    where {kept};\n"
    )


def labelled_generations_sql() -> str:
    """The table macro labelled_generations(dims, filters): the rows of generation_labels that
    the filters keep (a MAP dimension -> accepted labels: a row is kept when, for every dimension
    in the map, its label is one of the values), with the labels of dims[1..4] in slots d1..d4
    (null beyond the dimensions given). Used by sql/report.sql and sql/html_provider_errors.sql;
    DuckDB folds the bound arguments, so the columns of dimensions not asked for are not read."""
    return _labelled_macro("labelled_generations", "generation_labels", names())


def rollup_labels_sql() -> str:
    """The view daily_rollup_labels: the daily rollup with a label per rollup dimension."""
    columns = ",\n".join(f"    {label_expression(name)} as {name}_label" for name in rollup_names())
    return (
        "-- daily_rollup_labels: the daily rollup with each of its dimensions as a text label\n"
        "-- (<dimension>_label), built from pipeline/schema/dimensions.py.\n"
        "-- Grain     one row per (day, model, provider_name, data_region), as daily_rollup.\n"
        "-- Params    none.\n"
        "create or replace view daily_rollup_labels as\n"
        f"select\n    *,\n{columns}\nfrom daily_rollup;\n"
    )


def labelled_rollup_sql() -> str:
    """The table macro labelled_rollup(dims, filters): labelled_generations for the daily rollup
    (only the rollup's dimensions; pipeline/query/report.py asks it for no other)."""
    return _labelled_macro("labelled_rollup", "daily_rollup_labels", rollup_names())


def docs_markdown() -> str:
    """The list of dimensions for docs/report.md."""
    defaults = ", ".join(f"`{name}`" for name in default_names())
    return f"{', '.join(f'`{name}`' for name in names())} (default: {defaults})"
