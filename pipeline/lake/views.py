"""The views over the lake, and `<lake>/orusage.duckdb`: a DuckDB database that holds them.

    generations        typed records, one row per id, with derived columns (sql/views/)
    generation_labels  generations with each report dimension as a text label
    labelled_generations(dims, filters)  a table macro: generation_labels filtered on labels,
                       with the labels of the chosen dimensions in slots d1..d4
    provider_attempts  one row per element of provider_responses
    quarantine         rows that failed validation
    runs               one row per ingest run
    manifest           one row per input file a run read
    daily_rollup       every count and sum of the report per UTC day x model x provider_name x
                       data_region (pipeline/lake/rollup.py keeps it)
    daily_rollup_labels, labelled_rollup(dims, filters)  its labels, as for the generations

Every view reads the lake's files through **relative** paths (`generations/*/*.parquet`,
`_schema/date=1970-01-01/generations.parquet`,
`quarantine/*.parquet`, `_runs/*.json`, `_manifest/*.parquet`): a stock `duckdb` opened in the lake directory
(`cd lake && duckdb orusage.duckdb`) resolves them, and so does any DuckDB after
`SET file_search_path = '/path/to/lake'`. The paths go through the lake's `generations` link, so
a query sees one whole published version.

`refresh_views(lake)` rebuilds the database file after each ingest: it writes a new file beside
the old one and renames it over, so a reader holds the old file or the new one, never half.
`connect(lake)` opens the views for our own commands: the database file when it was built for
the lake's current version by the same SQL, else the same views built in memory.

A lake without generation files (empty, or every row quarantined), without quarantined rows or
without runs has nothing to glob: its `lake_*` source is then an empty table of the declared
columns, so every view still answers (zero rows) instead of failing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline.lake import layout as lake_layout
from pipeline.schema import dimensions, sqlfiles

DB_NAME = "orusage.duckdb"
META_TABLE = "_orusage_views"
STORAGE_VERSION = "v1.0.0"

# Source views: the file that defines each, and the lake tree whose files it reads.
SOURCES = {
    "lake_generations": ("views/lake_generations", lake_layout.GENERATIONS),
    "lake_quarantine": ("views/lake_quarantine", lake_layout.QUARANTINE),
    "lake_runs": ("views/lake_runs", lake_layout.RUNS),
    "lake_manifest": ("views/lake_manifest", lake_layout.MANIFEST),
    "lake_rollup": ("views/lake_rollup", lake_layout.ROLLUP),
}
# A lake written before the schema file existed (pipeline/lake/layout.py: schema_file): its
# generations are read by this file instead, until its next write adds the schema file.
UNPRUNED = "views/lake_generations_unpruned"
# A lake with merged months (generations/month=YYYY-MM/, `orusage compact --months-older-than`):
# its generations are read by one of these instead, with daily files or without.
MONTHLY = "views/lake_generations_monthly"
MONTHLY_ONLY = "views/lake_generations_monthly_only"
# The rollup's source: the files of the days it rebuilds, named.
FILES = "views/lake_generations_files"
FILES_MONTHLY = "views/lake_generations_files_monthly"
# A lake without rollup files: lake_rollup is this query's result over no day (its columns).
ROLLUP_SQL = "rollup_daily"
# The views users query, in dependency order.
VIEWS = (
    "generations",
    "generation_labels",
    "provider_attempts",
    "quarantine",
    "runs",
    "manifest",
    "daily_rollup",
    "daily_rollup_labels",
)
# Views built from the list of report dimensions (pipeline/schema/dimensions.py), not from a file of sql/.
GENERATED = {
    "generation_labels": (dimensions.generation_labels_sql, dimensions.labelled_generations_sql),
    "daily_rollup_labels": (dimensions.rollup_labels_sql, dimensions.labelled_rollup_sql),
}


def current_version(lake_root: Path) -> str | None:
    """Name of the published version (`current -> _versions/<run_id>`), or None."""
    version = lake_layout.current_version(lake_root)
    return None if version is None else version.name


def view_statements(view: str) -> list[str]:
    """The SQL that creates `view`: its file in sql/views/, or the statements built for it."""
    if view in GENERATED:
        return [build() for build in GENERATED[view]]
    return [sqlfiles.load(f"views/{view}")]


def sql_digest() -> str:
    """Digest of the view definitions: a database built by other SQL is rebuilt."""
    digest = hashlib.sha256()
    for name in [f for f, _tree in SOURCES.values()] + [UNPRUNED, MONTHLY, MONTHLY_ONLY, ROLLUP_SQL]:
        digest.update(sqlfiles.load(name).encode())
    for view in VIEWS:
        for statement in view_statements(view):
            digest.update(statement.encode())
    return digest.hexdigest()[:16]


def _prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Time zones (date_trunc in a zone, timezone()) come from ICU: load it, never install it.
    No progress bar: it would mix with a command's output."""
    con.execute("SET enable_progress_bar = false")
    con.execute("SET parquet_metadata_cache = true")  # files of a version never change
    with contextlib.suppress(duckdb.Error):  # built in, or absent: a query needing a zone then says so itself
        con.execute("LOAD icu")


def _empty_source(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """`name` as an empty table with the declared columns of its files."""
    if name == "lake_generations":
        import pyarrow as pa

        from pipeline.schema.table import lake_arrow_schema

        empty = lake_arrow_schema().append(pa.field("date", pa.date32())).empty_table()  # the partition column
    elif name == "lake_quarantine":
        from pipeline.lake.formats import QUARANTINE_SCHEMA

        empty = QUARANTINE_SCHEMA.empty_table()
    elif name == "lake_manifest":
        from pipeline.lake.formats import MANIFEST_SCHEMA

        empty = MANIFEST_SCHEMA.empty_table()
    else:
        import pyarrow as pa

        empty = pa.schema([("filename", pa.string()), ("content", pa.string())]).empty_table()
    con.register("_orusage_empty", empty)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _orusage_empty")  # name: a constant above
    finally:
        con.unregister("_orusage_empty")


def generations_source_file(lake_root: Path) -> str | None:
    """The file of sql/ that defines `lake_generations` for the lake or version at `lake_root`:
    the daily files through the schema file, with the merged months (with or without daily
    files), the unpruned reader of a lake without the schema file; None when there is no
    generation file (an empty table then)."""
    if not lake_layout.has_files(lake_root, lake_layout.GENERATIONS):
        return None
    if lake_layout.has_monthly_files(lake_root):
        return MONTHLY if lake_layout.has_daily_files(lake_root) else MONTHLY_ONLY
    if lake_layout.schema_file(lake_root).is_file():
        return SOURCES["lake_generations"][0]
    return UNPRUNED


def _generations_source(con: duckdb.DuckDBPyConnection, lake_root: Path) -> None:
    """lake_generations as `generations_source_file` says, or an empty table."""
    file = generations_source_file(lake_root)
    if file is None:
        _empty_source(con, "lake_generations")
    else:
        con.execute(sqlfiles.load(file))


_MEMORY_DATABASE: duckdb.DuckDBPyConnection | None = None


def memory_connection() -> duckdb.DuckDBPyConnection:
    """A new connection to the process's in-memory DuckDB database: a new database costs about
    10 ms, a connection to this one almost nothing (a run opens several: the parser, the checks,
    the rollup). Session settings (TimeZone, file_search_path, variables, registered tables) are
    the connection's own; the catalog and the global settings (memory_limit, threads,
    temp_directory) are shared, so a caller that sets those opens a database of its own."""
    global _MEMORY_DATABASE
    if _MEMORY_DATABASE is None:
        _MEMORY_DATABASE = duckdb.connect()
    return _MEMORY_DATABASE.cursor()


def connect_generations(root: Path, files: tuple[list[str], list[str]] | None = None) -> duckdb.DuckDBPyConnection:
    """A connection with only the `generations` view of the lake or version at `root`: what the
    rollup (pipeline/lake/rollup.py) reads while a transaction builds a version. With `files`
    (daily files, merged months' files; paths relative to `root`) it reads only those, when
    `root` has the schema file (sql/views/lake_generations_files.sql). Its views are in the
    shared catalog of `memory_connection()`: one caller at a time (rollup.py holds a lock)."""
    con = memory_connection()
    con.execute("SET file_search_path = $path", {"path": _config(root)["file_search_path"]})
    _prepare(con)
    if files is not None and lake_layout.schema_file(root).is_file():
        daily, monthly = files
        con.execute("SET VARIABLE orusage_daily_files = $files::VARCHAR[]", {"files": daily})
        if monthly:
            con.execute("SET VARIABLE orusage_month_files = $files::VARCHAR[]", {"files": monthly})
        con.execute(sqlfiles.load(FILES_MONTHLY if monthly else FILES))
    else:
        _generations_source(con, Path(root))
    for statement in view_statements("generations"):
        con.execute(statement)
    return con


def create_views(con: duckdb.DuckDBPyConnection, lake_root: Path) -> None:
    """Create the source and user views in `con`, for the lake at `lake_root` (the connection's
    file_search_path must point at it for relative paths to resolve)."""
    lake_root = Path(lake_root)
    for name, (file, tree) in SOURCES.items():
        if name == "lake_generations":
            _generations_source(con, lake_root)
        elif lake_layout.has_files(lake_root, tree):
            con.execute(sqlfiles.load(file))
        elif name != "lake_rollup":
            _empty_source(con, name)
    for view in VIEWS:
        if view == "daily_rollup" and not lake_layout.has_files(lake_root, lake_layout.ROLLUP):
            # The columns of the rollup's query, over the generations view just created.
            con.execute(
                "CREATE OR REPLACE TABLE lake_rollup AS " + sqlfiles.load(ROLLUP_SQL), {"days": []}
            )  # the file's own SQL, no value spliced
        for statement in view_statements(view):
            con.execute(statement)


def has_rollup(lake_root: Path) -> bool:
    """Whether the lake keeps a daily rollup (a lake written before it existed gets one at its
    next write; until then, reports add up the rows)."""
    return lake_layout.has_files(lake_root, lake_layout.ROLLUP)


def _config(lake_root: Path) -> dict:
    """Connection settings: relative paths resolve in the lake (a setting, never spliced SQL)."""
    return {"file_search_path": str(Path(lake_root).resolve())}


def _built_for(con: duckdb.DuckDBPyConnection) -> tuple | None:
    """(version, sql_digest) a views database was built for, or None when it does not say."""
    try:
        row = con.execute(f"SELECT version, sql_digest FROM {META_TABLE}").fetchone()  # a constant
    except duckdb.Error:
        return None
    return None if row is None else tuple(row)


def fresh(lake_root: Path) -> bool:
    """Whether `<lake>/orusage.duckdb` was built for the lake's current version by the current SQL."""
    db = Path(lake_root) / DB_NAME
    version = current_version(lake_root)
    if version is None or not db.is_file():
        return False
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:
        return False
    try:
        return _built_for(con) == (version, sql_digest())
    finally:
        con.close()


def connect(lake_root: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the views of the lake at `lake_root`, for reading."""
    lake_root = Path(lake_root)
    db = lake_root / DB_NAME
    version = current_version(lake_root)
    if db.is_file() and version is not None:
        try:
            con = duckdb.connect(str(db), read_only=True, config=_config(lake_root))
        except duckdb.Error:
            con = None
        if con is not None:
            if _built_for(con) == (version, sql_digest()):
                _prepare(con)
                return con
            con.close()
    con = duckdb.connect(config=_config(lake_root))
    _prepare(con)
    create_views(con, lake_root)
    return con


def refresh_views(lake_root: Path) -> Path:
    """(Re)create `<lake>/orusage.duckdb` with the views of the lake's current version, atomically
    (a new file renamed over the old one). Returns its path."""
    lake_root = Path(lake_root)
    final = lake_root / DB_NAME
    tmp = lake_root / f".{DB_NAME}.{os.getpid()}.tmp"
    for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
        if stale.exists():
            stale.unlink()
    # Written readable by DuckDB 1.0 and later, so any recent stock `duckdb` shell opens it.
    con = duckdb.connect(str(tmp), config={**_config(lake_root), "storage_compatibility_version": STORAGE_VERSION})
    try:
        _prepare(con)
        create_views(con, lake_root)
        con.execute(
            f"CREATE TABLE {META_TABLE} AS SELECT "
            "CAST($version AS VARCHAR) AS version, CAST($digest AS VARCHAR) AS sql_digest, "
            "CAST($refreshed_at AS TIMESTAMPTZ) AS refreshed_at",
            {"version": current_version(lake_root), "digest": sql_digest(), "refreshed_at": datetime.now(UTC)},
        )
        # Settings are not stored: the file keeps no absolute path, and a shell opened in the
        # lake directory (or with its own file_search_path) resolves the views.
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    os.replace(tmp, final)
    return final
