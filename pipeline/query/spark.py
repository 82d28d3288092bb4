"""Apache Spark as a second engine: the lake's views, ad-hoc SQL and the report, run by Spark.

The SQL stays that of `sql/` (DuckDB's dialect); pipeline/query/spark_sql.py translates it. Spark
reads the lake's Parquet files as they are (list<struct> -> array<struct>, timestamp[us, UTC] ->
timestamp), through the same `generations`, `quarantine`, `_runs` and `_manifest` links as DuckDB.

    view_statements(lake_uri)      the CREATE VIEW statements of `orusage views --dialect spark`
    SparkLake.open(lake, remote)   a Spark session (in-process local[*], or a Spark Connect server
                                   at sc://HOST:PORT) with the lake's views as temporary views
    lake.rows(sql, params)         a query of sql/ (or any DuckDB SQL), translated, run: Arrow table

The session: time zone UTC (timestamps are instants, shown in UTC), ANSI mode off (a division by
zero is NULL, as in DuckDB).

pyspark is an optional dependency (`pip install 'orusage[spark]'`); nothing here imports it until
a session is opened.
"""

from __future__ import annotations

import itertools
import os
import shlex
from pathlib import Path
from typing import Any

from pipeline.errors import OrusageError
from pipeline.lake import layout as lake_layout
from pipeline.lake import views as lake_views
from pipeline.query import spark_sql
from pipeline.schema import sqlfiles

# Session settings (runtime ones: a Spark Connect session takes them too).
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
}
# Settings of an in-process session, fixed when its JVM starts.
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",  # a lake's report shuffles little; 200 tasks per stage cost more than they bring
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}
LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")

# The lake's trees as Spark reads them: (source view, tree of pipeline/lake/layout.py, file suffix,
# Spark format). Files are found by suffix under the tree (recursiveFileLookup), but for the
# generations, partitioned by `date` (declared DATE, as DuckDB's hive_types).
SOURCES = (
    ("lake_generations", lake_layout.GENERATIONS, "*.parquet", "parquet"),
    ("lake_quarantine", lake_layout.QUARANTINE, "*.parquet", "parquet"),
    ("lake_runs", lake_layout.RUNS, "*.json", "binaryFile"),
    ("lake_manifest", lake_layout.MANIFEST, "*.parquet", "parquet"),
    ("lake_rollup", lake_layout.ROLLUP, "*.parquet", "parquet"),
)
RUN_FILES = "orusage_run_files"  # the summary files of lake_runs, one row per file (binaryFile)
# A lake with merged months: lake_generations is the union of these two sources.
DAILY_SOURCE = "orusage_generations_daily"
MONTHLY_SOURCE = "orusage_generations_monthly"

_QUERY_IDS = itertools.count(1)  # names the stages of each query apart

# Spark's types as the report names them (DuckDB's names: pipeline/query/report.py).
DUCKDB_TYPES = {
    "int64": "BIGINT",
    "int32": "INTEGER",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "large_string": "VARCHAR",
    "bool": "BOOLEAN",
    "date32[day]": "DATE",
}


def lake_uri(lake: Path | str) -> str:
    """The lake as Spark names it: a URI (s3a://, abfss://, gs://, file:) as given, a local path made absolute."""
    text = str(lake)
    if "://" in text:
        return text.rstrip("/")
    return str(Path(text).resolve())


def _arrow_to_spark(t) -> str:
    """A pyarrow type as a Spark SQL type."""
    import pyarrow as pa

    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"ARRAY<{_arrow_to_spark(t.value_type)}>"
    if pa.types.is_struct(t):
        return "STRUCT<" + ", ".join(f"`{f.name}`: {_arrow_to_spark(f.type)}" for f in t) + ">"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP"
    simple = {"int64": "BIGINT", "int32": "INT", "int16": "SMALLINT", "int8": "TINYINT", "double": "DOUBLE",
              "float": "FLOAT", "string": "STRING", "large_string": "STRING", "bool": "BOOLEAN", "date32[day]": "DATE",
              "binary": "BINARY"}  # fmt: skip
    if str(t) not in simple:
        raise OrusageError(f"the lake holds a column of type {t} that Spark cannot read", "Report this as a bug of orusage.")
    return simple[str(t)]


def _declared_schema(name: str):
    """The Arrow schema the lake's files of source `name` are written with (pipeline/lake/store.py)."""
    import pyarrow as pa

    if name == "lake_generations":  # and the partition column of the `date=YYYY-MM-DD` directories
        from pipeline.schema.table import lake_arrow_schema

        return lake_arrow_schema().append(pa.field("date", pa.date32()))
    if name == "lake_quarantine":
        from pipeline.lake.formats import QUARANTINE_SCHEMA

        return QUARANTINE_SCHEMA
    if name == "lake_manifest":
        from pipeline.lake.formats import MANIFEST_SCHEMA

        return MANIFEST_SCHEMA
    return pa.schema([("filename", pa.string()), ("content", pa.string())])


def _ident(name: str) -> str:
    from sqlglot import exp

    return exp.to_identifier(name, quoted=True).sql(dialect="spark")


def _string(text: str) -> str:
    from sqlglot import exp

    return exp.Literal.string(text).sql(dialect="spark")


def _columns(schema) -> str:
    return ", ".join(f"{_ident(f.name)} {_arrow_to_spark(f.type)}" for f in schema)


def _empty_source(name: str) -> str:
    """A source with no file to read: an empty select of the declared columns."""
    columns = ", ".join(f"CAST(NULL AS {_arrow_to_spark(f.type)}) AS {_ident(f.name)}" for f in _declared_schema(name))
    return f"SELECT {columns} WHERE FALSE"


def _source_statements(name: str, uri: str, tree: str, suffix: str, fmt: str, temporary: bool, has_files: bool) -> list[str]:
    """The statements that define source `name`: the files read with their declared columns (no
    schema inference), as a temporary view (`temporary`) or an external table of the catalog."""
    create_view = "CREATE OR REPLACE TEMPORARY VIEW" if temporary else "CREATE OR REPLACE VIEW"
    if not has_files:
        if name == "lake_rollup":
            return []  # the columns of the rollup's query, once the generations view is there (view_statements)
        return [f"{create_view} {name} AS {_empty_source(name)}"]
    options = f"OPTIONS (path {_string(uri + '/' + tree)}, recursiveFileLookup 'true', pathGlobFilter {_string(suffix)})"
    create_files = "CREATE OR REPLACE TEMPORARY VIEW" if temporary else "CREATE TABLE IF NOT EXISTS"
    if fmt == "binaryFile":  # one row per summary file: its path (as DuckDB names it) and its whole text
        return [
            f"{create_files} {RUN_FILES} USING binaryFile {options}",
            (
                f"{create_view} {name} AS SELECT "
                f"CONCAT({_string(uri + '/' + tree + '/')}, REGEXP_EXTRACT(path, '[^/]+$', 0)) AS filename, "
                f"CAST(content AS STRING) AS content FROM {RUN_FILES}"
            ),
        ]
    if name == "lake_rollup":  # files this project writes from one query (sql/rollup_daily.sql): their columns
        return [f"{create_files} {name} USING {fmt} {options}"]
    if name == "lake_generations":  # partitioned by `date` (a filter on it skips the other days' files)
        options = f"OPTIONS (path {_string(uri + '/' + tree)}, pathGlobFilter {_string(suffix)})"
    return [f"{create_files} {name} ({_columns(_declared_schema(name))}) USING {fmt} {options}"]


def _temporary(statement: str) -> str:
    prefix = "CREATE OR REPLACE VIEW "
    if not statement.startswith(prefix):
        raise OrusageError(f"a view of sql/views/ is not a CREATE OR REPLACE VIEW: {statement[:60]}", "Fix the view's SQL file.")
    return "CREATE OR REPLACE TEMPORARY VIEW " + statement.removeprefix(prefix)


def _generations_statements(uri: str, temporary: bool, daily: bool, monthly: bool) -> list[str]:
    """lake_generations of a lake with merged months (generations/month=YYYY-MM/, `date` stored
    in the files) beside, or instead of, the daily partitions: one source per layout (Spark's
    partition discovery refuses `date=` and `month=` directories side by side), then their union."""
    create_view = "CREATE OR REPLACE TEMPORARY VIEW" if temporary else "CREATE OR REPLACE VIEW"
    create_files = "CREATE OR REPLACE TEMPORARY VIEW" if temporary else "CREATE TABLE IF NOT EXISTS"
    columns = _columns(_declared_schema("lake_generations"))
    base = uri + "/" + lake_layout.GENERATIONS
    out, parts = [], []
    if daily:  # partitioned by `date` below the tree (basePath), as the tree of a lake without merged months
        options = (
            f"OPTIONS (path {_string(base + '/' + lake_layout.PARTITION_PREFIX + '*')}, basePath {_string(base)}, "
            f"pathGlobFilter {_string('*.parquet')})"
        )
        out.append(f"{create_files} {DAILY_SOURCE} ({columns}) USING parquet {options}")
        parts.append(f"SELECT * FROM {DAILY_SOURCE}")
    if monthly:  # `date` is a column of the files: no partition discovery
        options = (
            f"OPTIONS (path {_string(base + '/' + lake_layout.MONTH_PREFIX + '*')}, recursiveFileLookup 'true', "
            f"pathGlobFilter {_string('*.parquet')})"
        )
        out.append(f"{create_files} {MONTHLY_SOURCE} ({columns}) USING parquet {options}")
        parts.append(f"SELECT * FROM {MONTHLY_SOURCE}")
    out.append(f"{create_view} lake_generations AS " + " UNION ALL ".join(parts))
    return out


def view_statements(lake: Path | str, temporary: bool = False, local_root: Path | None = None) -> list[str]:
    """The Spark SQL that registers the lake's views: the four source views over the lake's files
    at `lake` (a path or URI), then the views of sql/views/ and generation_labels, translated.
    `temporary`: session views (what `--engine spark` uses); else views for a catalog.
    `local_root`: the lake on this machine, to find sources without files and merged months
    (None: assume files, and no merged month)."""
    uri = lake_uri(lake)
    out = []
    has_rollup = True
    for name, tree, suffix, fmt in SOURCES:
        has_files = True if local_root is None else lake_layout.has_files(Path(local_root), tree)
        has_rollup = has_files if name == "lake_rollup" else has_rollup
        if (
            name == "lake_generations"
            and has_files
            and local_root is not None
            and lake_layout.has_monthly_files(Path(local_root))
        ):
            out += _generations_statements(uri, temporary, lake_layout.has_daily_files(Path(local_root)), True)
            continue
        out += _source_statements(name, uri, tree, suffix, fmt, temporary, has_files)
    for view in lake_views.VIEWS:
        if view == "daily_rollup" and not has_rollup:  # as pipeline/lake/views.py: the query over no day
            query = spark_sql.translate(sqlfiles.load(lake_views.ROLLUP_SQL), {"days": []}, what="the rollup")[0]
            out.append(f"{'CREATE OR REPLACE TEMPORARY VIEW' if temporary else 'CREATE OR REPLACE VIEW'} lake_rollup AS {query}")
        statements = lake_views.view_statements(view)
        if view in lake_views.GENERATED:
            statements = statements[:1]  # the view; the table macro is inlined where it is used
        for statement in statements:
            for text in spark_sql.translate(statement, None, what=f"the view {view}"):
                out.append(_temporary(text) if temporary else text)
    return out


# --- the session ---------------------------------------------------------------------------------


def _pyspark():
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession
    except ImportError:
        raise OrusageError("--engine spark needs pyspark, which is not installed", spark_sql.INSTALL_FIX) from None
    return SparkSession


def _quiet_python_logs() -> None:
    """pyspark logs each failed query as a long JSON record on stderr; orusage says it in one line."""
    import logging

    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)


def start_session(remote: str | None = None, master: str = "local[*]", conf: dict[str, str] | None = None):
    """A Spark session: a Spark Connect client of `remote` (sc://HOST:PORT), else Spark in this
    process (`master`, local[*] by default; Java 17 must be installed)."""
    session_class = _pyspark()
    _quiet_python_logs()
    if remote:
        try:
            spark = session_class.builder.remote(remote).getOrCreate()
        except ImportError as exc:  # the connect client's own dependencies
            raise OrusageError(f"the Spark Connect client cannot start: {exc}", spark_sql.INSTALL_FIX) from None
        except Exception as exc:  # noqa: BLE001 (pyspark raises many kinds; one line for all)
            raise OrusageError(
                f"cannot reach the Spark Connect server {remote}: {_first_line(exc)}",
                "Check --spark-remote (sc://HOST:PORT) and that the server runs.",
            ) from None
    else:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # Spark's own default heap (1 GB) runs out on a report of about 10M records; the
        # launcher takes spark.driver.memory from spark-defaults.conf first, then this variable.
        os.environ.setdefault("SPARK_DRIVER_MEMORY", default_driver_memory())
        if LOG_CONFIG.is_file():  # the driver's JVM options reach it only through spark-submit's arguments
            os.environ.setdefault(
                "PYSPARK_SUBMIT_ARGS",
                f"--driver-java-options {shlex.quote('-Dlog4j2.configurationFile=file:' + str(LOG_CONFIG))} pyspark-shell",
            )
        builder = session_class.builder.master(master).appName("orusage")
        options = {**LOCAL_CONF, **SESSION_CONF, **(conf or {})}
        for key, value in options.items():
            builder = builder.config(key, value)
        try:
            spark = builder.getOrCreate()
        except Exception as exc:  # noqa: BLE001
            raise OrusageError(
                f"Spark could not start: {_first_line(exc)}",
                "Install Java 17 (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME; "
                "or pass --spark-remote sc://HOST:PORT.",
            ) from None
    try:
        for key, value in SESSION_CONF.items():
            spark.conf.set(key, value)
    except Exception as exc:  # noqa: BLE001 (a Connect client meets its server here)
        raise OrusageError(
            f"Spark did not answer: {_first_line(exc)}", "Check --spark-remote (sc://HOST:PORT) and that the server runs."
        ) from None
    return spark


def default_driver_memory() -> str:
    """The heap of an in-process Spark: half of this machine's memory, at least 1 GB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "1g"
    return f"{max(total // 2 // 2**30, 1)}g"


def _jvm_gone(exc: BaseException) -> bool:
    """Whether `exc` says the Spark driver's JVM is no longer there."""
    try:
        from py4j.protocol import Py4JNetworkError
    except ImportError:  # a Spark Connect client without py4j
        return isinstance(exc, ConnectionError)
    return isinstance(exc, ConnectionError | Py4JNetworkError)


def _jvm_ended(what: str) -> OrusageError:
    return OrusageError(
        f"Spark stopped while running {what}: its JVM ended, most often because it ran out of memory "
        "(java.lang.OutOfMemoryError)",
        "Give Spark more memory (in-process: SPARK_DRIVER_MEMORY=16g, or spark.driver.memory in "
        "spark-defaults.conf), report a shorter period with --since, or run it on a cluster with --spark-remote.",
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class SparkLake:
    """A Spark session with the views of one lake (temporary views: nothing is left in a catalog;
    one lake per session, since the views have the same names for every lake)."""

    engine = "spark"

    def __init__(self, spark, lake_root: Path, uri: str | None = None, owned: bool = True):
        self.spark = spark
        self.lake_root = Path(lake_root)
        self.uri = uri or lake_uri(lake_root)
        self.owned = owned
        for key, value in SESSION_CONF.items():
            spark.conf.set(key, value)
        for statement in view_statements(self.uri, temporary=True, local_root=self.lake_root):
            self._sql(statement, "the lake's views")

    @classmethod
    def open(cls, lake_root: Path, remote: str | None = None, master: str = "local[*]") -> SparkLake:
        return cls(start_session(remote, master), lake_root)

    def _sql(self, text: str, what: str):
        try:
            return self.spark.sql(text)
        except Exception as exc:  # noqa: BLE001 (Spark's analysis and parse errors)
            raise OrusageError(
                f"{what} failed on Spark: {_first_line(exc)}", "Fix the SQL, or run it with --engine duckdb."
            ) from None

    def arrow(self, sql: str, params: dict[str, Any] | None = None, what: str = "the query"):
        """The result of one query (DuckDB SQL) as a pyarrow Table. The CTEs it reads more than
        once are computed first, once each, as checkpointed temporary views (spark_sql.staged)."""
        import sqlglot
        from sqlglot import exp

        prefix = f"_orusage_{next(_QUERY_IDS)}_"
        stages, text = spark_sql.staged(sql, params or {}, what, prefix)
        if not isinstance(sqlglot.parse_one(text, read="spark"), exp.Query):
            raise OrusageError(
                f"{what} is not a query", "--engine spark runs queries (SELECT, WITH) only; the lake is read only."
            )
        done = []
        try:
            return self._run_stages(stages, text, what, done)
        except Exception as exc:
            if _jvm_gone(exc) or not self.alive():
                done.clear()  # its views went with it
                raise _jvm_ended(what) from None
            raise
        finally:
            try:
                for name in reversed(done):
                    self.spark.catalog.dropTempView(name)
            except Exception as exc:
                if _jvm_gone(exc) or not self.alive():
                    raise _jvm_ended(what) from None
                raise

    def alive(self) -> bool:
        """Whether the in-process driver's JVM still answers (a Connect session: always)."""
        try:
            gateway = self.spark.sparkContext._gateway
        except Exception:  # noqa: BLE001 (a Connect session has no SparkContext)
            return True
        if gateway is None:
            return True
        try:
            gateway.jvm.java.lang.System.currentTimeMillis()
        except Exception:  # noqa: BLE001 (py4j's errors of a closed connection vary)
            return False
        return True

    def _run_stages(self, stages, text: str, what: str, done: list[str]):
        """Compute each stage into its temporary view (its name added to `done`), then the query."""
        for name, query in stages:
            # Computed now, kept in the executors' memory without its plan (a cached plan
            # would be compared with every later query's plan, which costs more than it saves).
            self._sql(query, what).localCheckpoint(eager=True).createOrReplaceTempView(name)
            done.append(name)
        frame = self._sql(text, what)
        try:
            return frame.toArrow()
        except Exception as exc:  # noqa: BLE001
            raise OrusageError(
                f"{what} failed on Spark: {_first_line(exc)}", "Fix the SQL, or run it with --engine duckdb."
            ) from None

    def rows(self, sql: str, params: dict[str, Any] | None = None, what: str = "the query"):
        """(columns with their DuckDB type names, rows as tuples) of one query."""
        table = self.arrow(sql, params, what)
        described = [(f.name, duckdb_type(f.type)) for f in table.schema]
        columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
        return described, list(zip(*columns, strict=True)) if columns else []

    def column_types(self, view: str) -> dict[str, str]:
        """The DuckDB type names of the columns of one of the lake's views."""
        schema = self.spark.table(view).limit(0).toArrow().schema
        return {f.name: duckdb_type(f.type) for f in schema}

    def close(self) -> None:
        """Stop the session when this object started it; else drop the views it created."""
        if not self.alive():
            return  # a JVM that ended has nothing left to stop
        if self.owned:
            self.spark.stop()
            return
        for name in [RUN_FILES, DAILY_SOURCE, MONTHLY_SOURCE, *(s[0] for s in SOURCES), *lake_views.VIEWS]:
            self.spark.catalog.dropTempView(name)


def duckdb_type(arrow_type) -> str:
    """The DuckDB name of a Spark result column's Arrow type (as the report names types)."""
    import pyarrow as pa

    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP WITH TIME ZONE"
    if pa.types.is_list(arrow_type):
        return duckdb_type(arrow_type.value_type) + "[]"
    return DUCKDB_TYPES.get(str(arrow_type), str(arrow_type).upper())
