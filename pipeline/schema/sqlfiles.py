"""SQL files by name: find them, list the `$parameters` they take, run them with bound values.

Every query of the project lives in `sql/` (one query per file, named after what it produces;
see sql/README.md). Python never splices a value or a path into SQL: it runs a file by name and
binds its `$name` parameters, so the same file runs unchanged in a DuckDB shell with
`PREPARE q AS ...; EXECUTE q(name := value)`.

    names()                   every SQL file, by name ("report", "views/generations", ...)
    load(name)                the text of sql/<name>.sql
    parameters(sql)           the `$name` parameters a query uses, in order of first use
    run(con, sql, params)     a DuckDB relation of the query with its parameters bound

Nothing here imports pyarrow or polars: `orusage sql` starts in well under a second.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipeline.errors import OrusageError

# Comments, quoted strings and quoted identifiers hide a `$` that is not a parameter.
_SKIP = r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\""
_TOKENS = re.compile(rf"{_SKIP}|\$([A-Za-z_][A-Za-z0-9_]*)", re.DOTALL)


def sql_dir() -> Path:
    """The top-level `sql/` directory (in a checkout, or packaged in the wheel).

    The same search as `pipeline.schema.table.resource_dir("sql")`, done here so that running a query
    does not import pyarrow (schema.py does, for the Arrow schema)."""
    here = Path(__file__).resolve().parents[1]  # the package root, pipeline/
    for candidate in (here.parent / "sql", here / "_sql"):
        if candidate.is_dir():
            return candidate
    raise OrusageError(f"the sql/ directory is missing beside {here}", "Reinstall orusage or restore sql/ in the checkout.")


def names() -> list[str]:
    root = sql_dir()
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.sql"))


def path_of(name: str) -> Path:
    name = name.removesuffix(".sql")
    path = sql_dir() / f"{name}.sql"
    if not path.is_file() or ".." in Path(name).parts:
        known = ", ".join(n for n in names() if not n.startswith(("views/", "tests/")))
        raise OrusageError(f"no SQL file named {name!r}", f"Use one of: {known}; or pass a .sql file path.")
    return path


def load(name: str) -> str:
    return path_of(name).read_text(encoding="utf-8")


def header(sql: str) -> str:
    """The comment a SQL file opens with (its purpose, grain, inputs, output and parameters)."""
    lines = []
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[2:].removeprefix(" "))
    return "\n".join(lines)


def parameters(sql: str) -> tuple[str, ...]:
    """The `$name` parameters of a query, in order of first use (comments and quotes skipped)."""
    seen: dict[str, None] = {}
    for match in _TOKENS.finditer(sql):
        if match.group(1):
            seen.setdefault(match.group(1), None)
    return tuple(seen)


def bind_value(value: Any) -> Any:
    """A Python value as DuckDB binds it; a dict becomes a MAP (DuckDB binds a dict as a STRUCT
    unless it has exactly the keys `key` and `value`)."""
    if isinstance(value, dict) and set(value) != {"key", "value"}:
        return {"key": list(value), "value": [bind_value(v) for v in value.values()]}
    return value


def check_parameters(sql: str, params: dict[str, Any] | None, what: str = "the query") -> dict[str, Any]:
    """The parameters to bind: exactly those the query uses. Raises OrusageError when one is
    missing or one is given that the query does not use."""
    params = dict(params or {})
    wanted = parameters(sql)
    missing = [name for name in wanted if name not in params]
    if missing:
        raise OrusageError(
            f"{what} needs the parameter(s) {', '.join('$' + n for n in missing)}",
            "Pass each with -p NAME=VALUE (a JSON value, or text).",
        )
    unused = sorted(set(params) - set(wanted))
    if unused:
        raise OrusageError(
            f"{what} has no parameter(s) {', '.join('$' + n for n in unused)}",
            f"It takes: {', '.join('$' + n for n in wanted) or 'none'}.",
        )
    return {name: bind_value(params[name]) for name in wanted}


def run(con, sql: str, params: dict[str, Any] | None = None, what: str = "the query"):
    """A relation of `sql` with its parameters bound (lazy: nothing runs until it is read)."""
    bound = check_parameters(sql, params, what)
    return con.sql(sql, params=bound or None)


def run_file(con, name: str, params: dict[str, Any] | None = None):
    return run(con, load(name), params, what=f"sql/{name.removesuffix('.sql')}.sql")
