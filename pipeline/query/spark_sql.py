"""The SQL of `sql/` (DuckDB's dialect, the one source of truth) translated to Spark SQL.

sqlglot translates DuckDB to Spark; a small layer of fix-ups, applied to the parsed DuckDB
statement before Spark's text is generated, mends what it gets wrong or cannot know:

    DuckDB                                   Spark                              why
    $name (a bound parameter)                a literal, CAST to the type the    Spark binds no list/map
                                             file's header declares             parameters inside views
    labelled_generations(dims, filters),     its body, inlined as a subquery    Spark has no table macros
    labelled_rollup(dims, filters)
    quantile_cont(x, p)                      percentile(x, p)                   sqlglot writes
                                                                                PERCENTILE_CONT(x, p),
                                                                                which Spark rejects
    list_aggregate(l, 'quantile_cont', ps)   the same interpolation over        no aggregate over a list
                                             array_sort(l) (DuckDB's and
                                             Spark's percentile: exact)
    list(x ORDER BY k)                       collect_list of structs, sorted    sqlglot drops the ORDER BY
                                             by the keys, then the values
    list(DISTINCT x ORDER BY x)              the same with collect_set
    l[a:b]                                   slice(l, a, b - a + 1)             sqlglot writes l[a::b]
    l[-1]                                    element_at(l, -1)                  sqlglot writes l[-2]
    l[i] (i an expression)                   element_at(l, i)                   sqlglot keeps l[i], which
                                                                                Spark counts from 0
    len(list)                                size(list) (null for null)         sqlglot writes LENGTH
    timezone(zone, timestamptz)              from_utc_timestamp(ts, zone)       the local wall clock
    timezone(zone, CAST(x AS TIMESTAMP))     to_utc_timestamp(x, zone)          the instant of a wall clock
    several unnest() in one select list      one inline(arrays_zip(...))        Spark allows one generator
    1.0 (a DECIMAL literal)                  CAST(1.0 AS DOUBLE)                DuckDB divides in DOUBLE,
                                                                                Spark would round a DECIMAL
    epoch_ms(timestamp) / epoch_ms(bigint)   unix_millis(ts) / timestamp_millis sqlglot reverses them
    epoch(ts), epoch(b - a)                  unix_micros(ts) / 1e6, the same    seconds with fractions
                                             of b minus a
    to_days(n)                               make_dt_interval(n)                sqlglot keeps TO_DAYS
    CAST(x AS JSON)                          x (JSON text stays text)           sqlglot writes TO_JSON(x)
    map_contains(m, k)                       map_contains_key(m, k)
    list_sum / list_min / list_max (l)       aggregate / array_min / array_max  no Spark form in sqlglot
    time_bucket(interval, ts)                refused (OrusageError)             no Spark form: rewrite
                                                                                the SQL with date_trunc
    AS NOT MATERIALIZED (a CTE hint)         dropped                            a DuckDB planner hint
    LIMIT $n                                 LIMIT CAST(n AS INT); none for NULL Spark's LIMIT takes an INT
    read_parquet(...), read_csv(...)         refused (OrusageError)             reads files only DuckDB
                                                                                is given
    SELECT * EXCLUDE (c)                     refused                            Spark has no EXCLUDE

A statement that still holds a DuckDB-only construct after the fix-ups raises OrusageError
naming it (`untranslatable`); tests/test_spark.py translates every file of `sql/` and parses
each translation with Spark's own parser, so a new file that does not translate fails a test.

Nothing here imports pyspark: `orusage views --dialect spark` needs sqlglot only.
"""

from __future__ import annotations

import re
from typing import Any

from pipeline.errors import OrusageError

INSTALL_FIX = "Install it with `pip install 'orusage[spark]'` (or `make venv EXTRAS=spark` in a checkout)."

# Functions of DuckDB with no Spark meaning: a translation that still holds one is refused.
FORBIDDEN = (
    "LIST_AGGREGATE",
    "TIME_BUCKET",
    "DATE_BIN(",
    "PG_TIMEZONE_NAMES",
    "CURRENT_SETTING",
    "READ_PARQUET",
    "READ_TEXT",
    "READ_JSON",
    "PERCENTILE_CONT(",
    "LABELLED_GENERATIONS",
    "LABELLED_ROLLUP",
    "TIMEZONE(",
    "TO_DAYS(",
    "EPOCH_MS",
    "MAP_CONTAINS(",
    "NOT MATERIALIZED",
    "EXCEPT (",
    "INFORMATION_SCHEMA",
    "LIST_SUM",
    "LIST_MIN",
    "LIST_MAX",
)

# The header of a SQL file declares each parameter as `$name  TYPE  description`.
_PARAM_LINE = re.compile(r"^--\s+(?:Params\s+)?\$([A-Za-z_][A-Za-z0-9_]*)\s+([A-Z][A-Z_]*(?:\([^)]*\))?(?:\[\])*)")


def _sqlglot():
    try:
        import sqlglot
    except ImportError:
        raise OrusageError("Spark SQL needs sqlglot, which is not installed", INSTALL_FIX) from None
    return sqlglot


def param_types(sql: str) -> dict[str, str]:
    """The DuckDB type the header of a SQL file declares for each `$parameter`."""
    out: dict[str, str] = {}
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        match = _PARAM_LINE.match(line)
        if match:
            out.setdefault(match.group(1), match.group(2))
    return out


def untranslatable(spark_sql: str) -> list[str]:
    """The DuckDB-only constructs left in a translated statement (comments left out)."""
    text = re.sub(r"/\*.*?\*/", "", spark_sql, flags=re.DOTALL).upper()
    return [word for word in FORBIDDEN if word in text]


# --- literals ------------------------------------------------------------------------------------


def _spark_type(duckdb_type: str):
    from sqlglot import exp

    return exp.DataType.build(duckdb_type, dialect="duckdb")


def literal(value: Any, duckdb_type: str | None = None):
    """A Python value as a sqlglot expression (of the declared DuckDB type when given)."""
    from sqlglot import exp

    if isinstance(value, dict) and set(value) == {"key", "value"}:  # a MAP as sqlfiles.bind_value gives it
        value = dict(zip(value["key"], value["value"], strict=True))
    if value is None:
        node = exp.null()
    elif isinstance(value, bool):
        node = exp.Boolean(this=value)
    elif isinstance(value, (int, float)):
        node = exp.Literal.number(repr(value) if isinstance(value, float) else str(value))
    elif isinstance(value, str):
        node = exp.Literal.string(value)
    elif isinstance(value, (list, tuple)):
        node = exp.Array(expressions=[literal(v) for v in value])
    elif isinstance(value, dict):
        keys = exp.Array(expressions=[literal(k) for k in value])
        values = exp.Array(expressions=[literal(v) for v in value.values()])
        node = exp.Anonymous(this="MAP_FROM_ARRAYS", expressions=[keys, values])
    else:  # dates, datetimes: their ISO text, cast below
        node = exp.Literal.string(value.isoformat() if hasattr(value, "isoformat") else str(value))
    if duckdb_type is not None:
        node = exp.Cast(this=node, to=_spark_type(duckdb_type))
    return node


# --- the fix-ups ---------------------------------------------------------------------------------


def _fn(name: str, *args):
    from sqlglot import exp

    return exp.Anonymous(this=name, expressions=list(args))


def _spark(text: str):
    """A Spark expression from its text (the templates below; no user value is spliced)."""
    import sqlglot

    return sqlglot.parse_one(text, read="spark")


def _replace_placeholders(tree, params: dict[str, Any] | None, types: dict[str, str]):
    from sqlglot import exp

    def swap(node):
        if isinstance(node, exp.Placeholder) and node.name:
            name = node.name
            if params is not None and name in params:
                return literal(params[name], types.get(name))
            if params is None and name in types:  # no values: a typed NULL (to check a translation)
                return literal(None, types[name])
            raise OrusageError(f"the query needs the parameter ${name}", "Pass each with -p NAME=VALUE (a JSON value, or text).")
        return node

    return tree.transform(swap)


def _macros() -> dict:
    """The table macros of the views (pipeline/schema/dimensions.py builds them): name -> builder."""
    from pipeline.schema import dimensions

    return {
        "labelled_generations": dimensions.labelled_generations_sql,
        "labelled_rollup": dimensions.labelled_rollup_sql,
    }


def _macro_body(name: str):
    """The select of table macro `name`(dims, filters), parsed (DuckDB)."""
    import sqlglot

    text = _macros()[name]()
    body = re.split(r"\bas\s+table\b", text, maxsplit=1, flags=re.IGNORECASE)[1].strip().rstrip(";")
    return sqlglot.parse_one(body, read="duckdb")


def _inline_macros(tree):
    """A table macro called in a FROM (labelled_generations(a, b), labelled_rollup(a, b)): its
    body as a subquery, with dims := a, filters := b."""
    from sqlglot import exp

    macros = _macros()
    for table in list(tree.find_all(exp.Table)):
        call = table.this
        if isinstance(call, exp.Anonymous) and call.name.lower() in macros:
            dims, filters = call.expressions
            body = _macro_body(call.name.lower())

            def bind(node, dims=dims, filters=filters):
                if isinstance(node, exp.Column) and not node.table and node.name in ("dims", "filters"):
                    return (dims if node.name == "dims" else filters).copy()
                return node

            body = body.transform(bind)
            alias = table.alias or "labelled"
            table.replace(exp.Subquery(this=body, alias=exp.TableAlias(this=exp.to_identifier(alias))))
    return tree


_QUANTILES = (
    "CASE WHEN SIZE(__s) = 0 THEN NULL ELSE TRANSFORM(__ps, __p -> "
    "CASE WHEN FLOOR((SIZE(__s) - 1) * __p) = CEIL((SIZE(__s) - 1) * __p) "
    "THEN ELEMENT_AT(__s, CAST(FLOOR((SIZE(__s) - 1) * __p) AS INT) + 1) "
    "ELSE ELEMENT_AT(__s, CAST(FLOOR((SIZE(__s) - 1) * __p) AS INT) + 1) + "
    "(ELEMENT_AT(__s, CAST(CEIL((SIZE(__s) - 1) * __p) AS INT) + 1) "
    "- ELEMENT_AT(__s, CAST(FLOOR((SIZE(__s) - 1) * __p) AS INT) + 1)) "
    "* ((SIZE(__s) - 1) * __p - FLOOR((SIZE(__s) - 1) * __p)) END) END"
)


def _list_quantiles(values, quantiles):
    """DuckDB's quantile_cont over the non-null values of a list, for a list of fractions: the
    values sorted once (bound to a lambda variable), then the linear interpolation between the
    two closest ranks, as DuckDB and Spark's exact `percentile` define it."""
    from sqlglot import exp

    body = _spark(_QUANTILES)
    sorted_values = _spark("ARRAY_SORT(FILTER(__v, __x -> __x IS NOT NULL))")

    def fill(node):
        if isinstance(node, exp.Column) and node.name == "__v":
            return values.copy()
        if isinstance(node, exp.Column) and node.name == "__ps":
            return quantiles.copy()
        return node

    sorted_values = sorted_values.transform(fill)
    body = body.transform(fill)
    # ELEMENT_AT(ARRAY(sorted), 1) bound as __s: TRANSFORM(ARRAY(sorted), __s -> body)[0]
    bound = _spark("ELEMENT_AT(TRANSFORM(ARRAY(__sorted), __s -> __body), 1)")

    def place(node):
        if isinstance(node, exp.Column) and node.name == "__sorted":
            return sorted_values
        if isinstance(node, exp.Column) and node.name == "__body":
            return body
        return node

    return bound.transform(place)


def _ordered_list(agg, order):
    """list(x ORDER BY k1 [DESC], ...) as collect_list of (k1, ..., x) sorted by the keys."""
    from sqlglot import exp

    keys = order.expressions
    fields = [exp.Literal.string(f"k{i}") for i in range(len(keys))]
    pairs = []
    for name, key in zip(fields, keys, strict=True):
        pairs += [name, _t(key.this)]
    value = order.this
    distinct = isinstance(value, exp.Distinct)  # list(DISTINCT x ORDER BY x): the keys follow from x
    if distinct:
        value = value.expressions[0]
    pairs += [exp.Literal.string("v"), _t(value)]
    collect = "COLLECT_SET" if distinct else "COLLECT_LIST"
    collected = exp.Anonymous(this=collect, expressions=[exp.Anonymous(this="NAMED_STRUCT", expressions=pairs)])
    cases = []
    for i, key in enumerate(keys):
        desc = bool(key.args.get("desc"))
        lt, gt = ("1", "-1") if desc else ("-1", "1")
        cases.append(f"WHEN __l.k{i} < __r.k{i} THEN {lt} WHEN __l.k{i} > __r.k{i} THEN {gt}")
    comparator = f"(__l, __r) -> CASE {' '.join(cases)} ELSE 0 END"
    sorted_ = _spark(f"TRANSFORM(ARRAY_SORT(__c, {comparator}), __e -> __e.v)")
    return sorted_.transform(lambda n: collected if isinstance(n, exp.Column) and n.name == "__c" else n)


def _is_timestamp_cast(node) -> bool:
    from sqlglot import exp

    return isinstance(node, exp.Cast) and node.to.this in (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ)


def _fix(node):
    """One node of the DuckDB tree, mended for Spark (see the module's table)."""
    from sqlglot import exp

    if isinstance(node, (exp.ReadParquet, exp.ReadCSV)) or (
        isinstance(node, exp.Anonymous) and node.name.lower().startswith("read_")
    ):
        raise OrusageError(
            f"{node.sql_name().lower() if not isinstance(node, exp.Anonymous) else node.name}() reads files that only "
            "DuckDB is given",
            "Read the lake through its views (generations, quarantine, runs, manifest).",
        )
    if type(node).__name__ in ("DateBin", "TimeBucket"):
        raise OrusageError("time_bucket() has no Spark form", "Write the bucket with date_trunc() in the SQL file.")
    if isinstance(node, exp.Limit):  # LIMIT NULL is no limit in DuckDB; Spark wants an INT
        value = node.expression
        inner = value.this if isinstance(value, exp.Cast) else value
        if isinstance(inner, exp.Null):
            return None
        node.set("expression", exp.Cast(this=_t(value), to=exp.DataType.build("INT")))
        return node

    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        node.set("materialized", None)
        return node
    if isinstance(node, exp.Literal) and node.is_number and re.fullmatch(r"-?\d+\.\d*|-?\d*\.\d+", node.this):
        return exp.Cast(this=node.copy(), to=exp.DataType.build("DOUBLE"))
    if isinstance(node, exp.Length):
        return exp.Nullif(this=_fn("SIZE", _t(node.this)), expression=exp.Literal.number(-1))
    if isinstance(node, exp.Quantile) or (isinstance(node, exp.PercentileCont) and node.expression is not None):
        return _fn("PERCENTILE", _t(node.this), _t(node.args.get("quantile") or node.expression))
    if isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order):
        return _ordered_list(node, node.this)
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1 and isinstance(node.expressions[0], exp.Slice):
        lo, hi = node.expressions[0].this, node.expressions[0].expression
        length = exp.Sub(this=exp.Add(this=_t(hi), expression=exp.Literal.number(1)), expression=_t(lo))
        return _fn("SLICE", _t(node.this), _t(lo), exp.Paren(this=length))
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1 and not isinstance(node.this, exp.Map):
        index = node.expressions[0]
        if isinstance(index, exp.Neg) or (isinstance(index, exp.Literal) and index.this.startswith("-")):
            # sqlglot holds a literal index 0-based: DuckDB's l[-1] is held as -2
            return _fn("ELEMENT_AT", _t(node.this), exp.Add(this=_t(index), expression=exp.Literal.number(1)))
        if not isinstance(index, exp.Literal):
            # an expression: sqlglot keeps DuckDB's 1-based index as it is, and Spark's l[i] counts
            # from 0; element_at counts from 1 (and takes a map's key, as DuckDB's m[k])
            return _fn("ELEMENT_AT", _t(node.this), _t(index))
    if isinstance(node, exp.CastToStrType) or (isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.JSON):
        return _t(node.this)
    if isinstance(node, (exp.Anonymous, exp.Func)):
        name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).upper()
        args = node.expressions if isinstance(node, exp.Anonymous) else None
        if name == "LIST_AGGREGATE" and args and len(args) == 3 and args[1].name.lower() in ("quantile_cont", "quantile"):
            return _list_quantiles(_t(args[0]), _t(args[2]))
        if name == "TIMEZONE" and args and len(args) == 2:
            zone, value = args
            fn = "TO_UTC_TIMESTAMP" if _is_timestamp_cast(value) else "FROM_UTC_TIMESTAMP"
            return _fn(fn, _t(value), _t(zone))
        if name == "MAP_CONTAINS" and args:
            return _fn("MAP_CONTAINS_KEY", *[_t(a) for a in args])
        if name in ("LIST_SUM", "LIST_MIN", "LIST_MAX") and args:
            spark = {"LIST_SUM": "AGGREGATE(__v, CAST(0 AS DOUBLE), (__a, __x) -> __a + COALESCE(__x, 0))",
                     "LIST_MIN": "ARRAY_MIN(__v)", "LIST_MAX": "ARRAY_MAX(__v)"}[name]  # fmt: skip
            return _spark(spark).transform(lambda n: _t(args[0]) if isinstance(n, exp.Column) and n.name == "__v" else n)
        if name == "TIME_BUCKET":
            raise OrusageError("time_bucket() has no Spark form", "Write the bucket with date_trunc() in the SQL file.")
    if isinstance(node, exp.UnixToTime) and str(node.args.get("scale", "")).strip("'") in ("3", "millis"):
        return _fn("UNIX_MILLIS", _t(node.this))  # DuckDB's epoch_ms(timestamp): milliseconds since the epoch
    if isinstance(node, exp.TimeToUnix) and isinstance(node.this, exp.Sub):  # epoch(b - a): seconds between
        micros = exp.Sub(this=_fn("UNIX_MICROS", _t(node.this.this)), expression=_fn("UNIX_MICROS", _t(node.this.expression)))
        return exp.Div(this=exp.Paren(this=micros), expression=exp.Literal.number("1000000.0"))
    if isinstance(node, exp.ToDays):  # to_days(n): an interval of n days
        return _fn("MAKE_DT_INTERVAL", _t(node.this))
    if isinstance(node, exp.TimeToUnix):  # epoch(ts): seconds, with their fraction
        return exp.Div(this=_fn("UNIX_MICROS", _t(node.this)), expression=exp.Literal.number("1000000.0"))
    return node


def _t(node):
    """A copy of `node` with the fix-ups applied to it and below."""
    return node.copy().transform(_fix)


def _zip_generators(tree):
    """Several unnest() in one select list (DuckDB zips them) -> one INLINE(ARRAYS_ZIP(...))."""
    from sqlglot import exp

    for select in list(tree.find_all(exp.Select)):
        unnests = [
            (i, e)
            for i, e in enumerate(select.expressions)
            if isinstance(e, exp.Alias) and isinstance(e.this, (exp.Unnest, exp.Explode))
        ]
        if len(unnests) < 2:
            continue
        arrays = []
        for _i, alias in unnests:
            inner = alias.this
            arrays.append((inner.expressions[0] if isinstance(inner, exp.Unnest) else inner.this).copy())
        zipped = exp.Aliases(
            this=exp.Inline(this=exp.ArraysZip(expressions=arrays)),
            expressions=[exp.to_identifier(alias.alias) for _i, alias in unnests],
        )
        first = unnests[0][0]
        kept = [e for i, e in enumerate(select.expressions) if i not in {j for j, _ in unnests}]
        kept.insert(first, zipped)
        select.set("expressions", kept)
    return tree


def _check_exclude(tree, what: str) -> None:
    from sqlglot import exp

    for node in tree.find_all(exp.Star, exp.Select):
        if node.args.get("except") or node.args.get("except_") or node.args.get("exclude"):
            raise OrusageError(f"{what} uses SELECT * EXCLUDE, which Spark lacks", "List the columns in the SQL file instead.")


def _uses(with_, main) -> dict[str, int]:
    """How often each CTE of `with_` is read when the query runs: a reference from a CTE that is
    inlined (NOT MATERIALIZED in DuckDB) counts once per use of that CTE."""
    from sqlglot import exp

    ctes = list(with_.expressions)
    names = [c.alias for c in ctes]
    uses = dict.fromkeys(names, 0)

    def refs(node) -> dict[str, int]:
        out: dict[str, int] = {}
        for table in node.find_all(exp.Table):
            if not table.args.get("db") and table.name in uses:
                out[table.name] = out.get(table.name, 0) + 1
        return out

    for name, n in refs(main).items():
        uses[name] += n
    for cte in reversed(ctes):
        weight = uses[cte.alias] if cte.args.get("materialized") is False else 1
        for name, n in refs(cte.this).items():
            if names.index(name) < names.index(cte.alias):
                uses[name] += n * max(weight, 1)
    return uses


def _rename_tables(node, renames: dict[str, str]):
    from sqlglot import exp

    def swap(n):
        if isinstance(n, exp.Table) and not n.args.get("db") and n.name in renames:
            alias = n.alias or n.name
            return exp.Table(this=exp.to_identifier(renames[n.name]), alias=exp.TableAlias(this=exp.to_identifier(alias)))
        return n

    return node.transform(swap)


def staged(sql: str, params: dict[str, Any] | None, what: str, prefix: str) -> tuple[list[tuple[str, str]], str]:
    """One query of `sql` for Spark, in stages: ([(name, query)], final query). Spark computes a
    CTE again at every reference (DuckDB materializes a CTE read more than once): each CTE that
    the query reads two or more times, unless DuckDB inlines it (NOT MATERIALIZED), becomes a
    stage named `prefix + its name` that the engine computes once (CACHE TABLE) before the
    final query reads it."""
    from sqlglot import exp

    trees = _translated_trees(sql, params, what)
    if len(trees) != 1:
        raise OrusageError(f"{what} holds {len(trees)} statements", "Run one query at a time with --engine spark.")
    tree, inlined = trees[0]
    with_ = tree.args.get("with_")
    if with_ is None or not isinstance(tree, exp.Query):
        return [], _generate(tree, what)
    for cte in with_.expressions:
        cte.set("materialized", False if cte.alias in inlined else None)
    main = tree.copy()
    main.set("with_", None)
    uses = _uses(with_, main)
    stage_names = [c.alias for c in with_.expressions if uses[c.alias] >= 2 and c.alias not in inlined]
    renames = {name: prefix + name for name in stage_names}
    stages, kept = [], []
    for cte in with_.expressions:
        cte.set("materialized", None)
        body = _rename_tables(cte.this, renames)
        if cte.alias in renames:
            stages.append((renames[cte.alias], _generate(_with_needed(body, kept), what)))
        else:
            kept.append(exp.CTE(this=body, alias=exp.TableAlias(this=exp.to_identifier(cte.alias))))
    return stages, _generate(_with_needed(_rename_tables(main, renames), kept), what)


def _with_needed(query, ctes):
    """`query` with those of `ctes` it reads, directly or through another (Spark analyzes every
    CTE of a WITH, read or not)."""
    from sqlglot import exp

    by_name = {c.alias: c for c in ctes}
    needed: set[str] = set()
    todo = [query]
    while todo:
        for table in todo.pop().find_all(exp.Table):
            if not table.args.get("db") and table.name in by_name and table.name not in needed:
                needed.add(table.name)
                todo.append(by_name[table.name].this)
    query = query.copy()
    if needed:
        query.set("with_", exp.With(expressions=[c.copy() for c in ctes if c.alias in needed]))
    return query


def _generate(tree, what: str) -> str:
    text = tree.sql(dialect="spark", pretty=True, comments=False)
    left = untranslatable(text)
    if left:
        raise OrusageError(
            f"{what} does not translate to Spark: {', '.join(w.rstrip('( ') for w in left)} left",
            "Rewrite the construct in the SQL file (pipeline/query/spark_sql.py lists what translates).",
        )
    return text


def _translated_trees(sql: str, params: dict[str, Any] | None, what: str):
    """[(the Spark tree of each statement, names of its CTEs DuckDB inlines)]."""
    from sqlglot import exp

    sqlglot = _sqlglot()
    types = param_types(sql)
    try:
        trees = [t for t in sqlglot.parse(sql, read="duckdb") if t is not None]
    except sqlglot.errors.ParseError as exc:
        first = str(exc).strip().splitlines()[0]
        raise OrusageError(f"{what} could not be read for Spark: {first}", "Fix the SQL (DuckDB dialect).") from None
    out = []
    for tree in trees:
        _check_exclude(tree, what)
        inlined = {c.alias for c in tree.find_all(exp.CTE) if c.args.get("materialized") is False}
        tree = _replace_placeholders(tree, params, types)
        tree = _inline_macros(tree)
        tree = _zip_generators(tree)
        tree = tree.transform(_fix)
        out.append((tree, inlined))
    return out


def translate(sql: str, params: dict[str, Any] | None = None, what: str = "the query") -> list[str]:
    """The statements of `sql` (DuckDB) in Spark SQL, with `params` bound as typed literals
    (None: each declared parameter as a typed NULL, to check a translation). OrusageError when
    a construct does not translate."""
    return [_generate(tree, what) for tree, _inlined in _translated_trees(sql, params, what)]
