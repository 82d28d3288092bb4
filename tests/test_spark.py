"""Apache Spark as a second engine: every file of sql/ translates, and Spark gives DuckDB's rows.

One Spark session (local[2]) serves the whole module (`spark`, session-scoped): its start costs
10-20 s on a 2-core machine. Parity: every view and the report, on the sample lake and on a
generated lake, with the same rows on both engines (integers and text exact, floats within 1e-9
relative, percentiles too: both engines interpolate the exact values).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, cli, ingest
from pipeline.errors import OrusageError
from pipeline.lake import views
from pipeline.query import spark_sql
from pipeline.query.report import ReportOptions, query_report
from pipeline.query.spark import SparkLake, start_session
from pipeline.schema import sqlfiles

# Files of sql/ that stay DuckDB's own, each with the reason; every other file must translate.
DUCKDB_ONLY = {
    "views/lake_generations": "reads files: Spark reads them with pipeline/query/spark.py's source statements",
    "views/lake_quarantine": "reads files: as above",
    "views/lake_runs": "reads files: as above",
    "views/lake_manifest": "reads files: as above",
    "views/lake_rollup": "reads files: as above",
    "views/lake_generations_unpruned": "reads files: as above (a lake written before the schema file)",
    "views/lake_generations_files": "reads files: the rollup's source while a write builds a version",
    "views/lake_generations_files_monthly": "reads files: as above, with merged months",
    "report_context": "DuckDB's settings and information_schema: the Spark engine reads its session's schema",
    "time_zone_known": "DuckDB's ICU zone list: with Spark the CLI checks --tz with zoneinfo",
    "shell_tables": "the DuckDB shell's .tables (information_schema)",
    "shell_columns": "the DuckDB shell's .schema (information_schema)",
    "bench_baseline": "the benchmark's raw DuckDB baseline over the files it lists",
    "bench_percentiles": "the benchmark's raw DuckDB percentiles over the files it lists",
    "compact_expected": "maintenance: reads the partition files `orusage compact` lists",
    "compact_partition": "maintenance: rewrites the partition files `orusage compact` lists",
    "compact_month": "maintenance: rewrites the month's files `orusage compact --months-older-than` lists",
    "compact_month_expected": "maintenance: reads the month's files `orusage compact --months-older-than` lists",
    "prune_month": "maintenance: rewrites a merged month's files `orusage prune` lists",
    "views/lake_generations_monthly": "reads files: as above (a lake with merged months)",
    "views/lake_generations_monthly_only": "reads files: as above (a lake of merged months only)",
    "quarantine_replay_rows": "a writer's input: the quarantine files `orusage quarantine replay` lists",
    "reconcile_activity": "reads activity_rows, the table `orusage reconcile` registers in DuckDB",
}

# The views compared row by row, each with the columns that order its rows.
VIEW_KEYS = {
    "generations": ("id",),
    "generation_labels": ("id",),
    "provider_attempts": ("generation_id", "attempt_number"),
    "quarantine": ("run_id", "source_file", "source_line"),
    "runs": ("run_id",),
    "manifest": ("run_id", "path"),
    "daily_rollup": ("day", "model", "provider_name", "data_region"),
    "daily_rollup_labels": ("day", "model", "provider_name", "data_region"),
}
JSON_COLUMNS = {"warnings", "file_details"}  # JSON text: the same object, spaced differently


@pytest.fixture(scope="module")
def spark():
    session = start_session(master="local[2]")
    yield session
    if session.sparkContext._gateway.proc.poll() is None:  # the module's last test ends the JVM
        session.stop()


@pytest.fixture(scope="module")
def sample(report_sample_lake, spark):
    """(DuckDB connection, SparkLake) on the sample lake."""
    con = views.connect(report_sample_lake)
    lake = SparkLake(spark.newSession(), report_sample_lake, owned=False)  # views of its own
    yield report_sample_lake, con, lake
    lake.close()
    con.close()


@pytest.fixture(scope="module")
def generated(tmp_path_factory, spark):
    """A generated lake (tools/synth.py, 6,000 records over 45 days across a DST change) on both engines."""
    from tools import synth

    root = tmp_path_factory.mktemp("spark-generated")
    path = root / "gen.jsonl"
    start = dt.datetime(2026, 10, 10, tzinfo=dt.UTC)
    records = [json.dumps(r) + "\n" for r in synth.iter_records(6000, seed=3, start=start, days=45)]
    bad = ["not json\n", '{"id": "gen-bad-1", "model": 5}\n']  # so that the quarantine has rows
    path.write_text("".join(records[:100] + bad + records[100:]))
    lake_root = root / "lake"
    ingest([path], lake_root)
    con = views.connect(lake_root)
    lake = SparkLake(spark.newSession(), lake_root, owned=False)
    yield lake_root, con, lake
    lake.close()
    con.close()


@pytest.fixture(scope="module")
def merged(report_sample_lake, tmp_path_factory, spark):
    """A copy of the sample lake whose months before 2026-10 are merged (generations/month=YYYY-MM/,
    `orusage compact --months-older-than`), October still daily, on both engines."""
    import shutil

    from pipeline.ops.maintain import compact

    root = tmp_path_factory.mktemp("spark-merged") / "lake"
    shutil.copytree(report_sample_lake, root, symlinks=True)
    (root / "orusage.duckdb").unlink(missing_ok=True)
    assert len(compact(root, months_older_than=10, today=dt.date(2026, 10, 20))["months"]) == 6
    con = views.connect(root)
    lake = SparkLake(spark.newSession(), root, owned=False)
    yield root, con, lake
    lake.close()
    con.close()


def same(a, b, where: str) -> None:
    """Equal values: floats within 1e-9 relative, JSON text as JSON, instants as instants."""
    if isinstance(a, float) or isinstance(b, float):
        assert a is not None and b is not None, f"{where}: {a!r} != {b!r}"
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), f"{where}: {a!r} != {b!r}"
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{where}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{where}: {sorted(a)} != {sorted(b)}"
        for key in a:
            same(a[key], b[key], f"{where}.{key}")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def same_rows(duck: list[dict], sparks: list[dict], what: str) -> None:
    assert len(duck) == len(sparks), f"{what}: {len(duck)} rows on DuckDB, {len(sparks)} on Spark"
    assert len(duck) > 0, f"{what}: no rows to compare"
    for i, (d, s) in enumerate(zip(duck, sparks, strict=True)):
        assert list(d) == list(s), f"{what}: columns differ"
        for column in d:
            a, b = d[column], s[column]
            if column in JSON_COLUMNS and a is not None and b is not None:
                a, b = json.loads(a), json.loads(b)
            same(a, b, f"{what} row {i} {column}")


# --- translation -----------------------------------------------------------------------------------


def test_every_sql_file_translates_and_spark_parses_it(sample):
    """Each file of sql/ (but the DuckDB-only ones, each with its reason) translates, and Spark's
    analyzer accepts the translation over the lake's views (a view file: as the engine registers it)."""
    _root, _con, lake = sample
    names = sqlfiles.names()
    assert set(DUCKDB_ONLY) <= set(names)
    checked = []
    for name in names:
        if name in DUCKDB_ONLY:
            continue
        for statement in spark_sql.translate(sqlfiles.load(name), None, what=name):
            assert not spark_sql.untranslatable(statement), name
            if name.startswith("views/"):
                continue  # registered by SparkLake (the fixture): a view that failed would have raised
            lake.spark.sql(statement).schema  # noqa: B018 (analysis: raises when Spark cannot resolve it)
        checked.append(name)
    assert "report" in checked and "views/generations" in checked and len(checked) >= 25


def test_the_known_gaps_of_sqlglot_are_mended():
    """Each fix-up of pipeline/query/spark_sql.py, on the construct it exists for."""

    def one(sql: str) -> str:
        return " ".join(spark_sql.translate(sql)[0].split())

    assert "PERCENTILE(x, CAST(0.5 AS DOUBLE))" in one("select quantile_cont(x, 0.5) from t")
    assert "NULLIF(SIZE(l), -1)" in one("select len(l) from t")
    assert "ELEMENT_AT(l, -2 + 1)" in one("select l[-1] from t")
    assert "l[0]" in one("select l[1] from t")
    assert "SLICE(l, 1, ( 3 + 1 - 1 ))" in one("select l[1:3] from t")
    assert "UNIX_MILLIS(ts)" in one("select epoch_ms(ts) from t")
    assert "FROM_UTC_TIMESTAMP(ts, 'Europe/Berlin')" in one("select timezone('Europe/Berlin', ts) from t")
    assert "TO_UTC_TIMESTAMP(CAST('2026-01-01' AS TIMESTAMP_NTZ), 'UTC')" in one(
        "select timezone('UTC', cast('2026-01-01' as timestamp)) from t"
    )
    assert "AVG(CASE WHEN x THEN CAST(1.0 AS DOUBLE) ELSE CAST(0.0 AS DOUBLE) END)" in one(
        "select avg(case when x then 1.0 else 0.0 end) from t"
    )
    assert "INLINE(ARRAYS_ZIP(a, b)) AS (x, y)" in one("select unnest(a) as x, unnest(b) as y from t")
    assert "AGGREGATE(l," in one("select list_sum(l) from t")
    assert "ARRAY_SORT(" in one("select list(x order by y desc) from t")
    assert "ARRAY_SORT(FILTER(l," in one("select list_aggregate(l, 'quantile_cont', [0.5]) from t")
    assert "ELEMENT_AT(l, i - 2)" in one("select l[i - 2] from t")
    with pytest.raises(Exception, match="time_bucket"):
        spark_sql.translate("select time_bucket(interval 1 hour, ts) from t")
    with pytest.raises(Exception, match="EXCLUDE"):
        spark_sql.translate("select * exclude (x) from t")


# --- parity ----------------------------------------------------------------------------------------


def _view_rows_duckdb(con, view: str) -> list[dict]:
    keys = ", ".join(VIEW_KEYS[view])
    result = con.execute(f"select * from {view} order by {keys}")
    columns = [c[0] for c in result.description]
    return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]  # names: constants above


def _view_rows_spark(lake: SparkLake, view: str) -> list[dict]:
    keys = ", ".join(VIEW_KEYS[view])
    return lake.arrow(f"select * from {view} order by {keys}").to_pylist()


@pytest.mark.parametrize("which", ["sample", "generated", "merged"])
def test_every_view_gives_the_same_rows_on_spark(which, request):
    _root, con, lake = request.getfixturevalue(which)
    for view in VIEW_KEYS:
        same_rows(_view_rows_duckdb(con, view), _view_rows_spark(lake, view), f"{which} {view}")


REPORTS = {
    "default": ReportOptions(top=10),
    "every-group": ReportOptions(),
    "tz-week-where-top": ReportOptions(
        dims=("provider_name", "model"),
        granularity="week",
        tz="America/New_York",
        where=(("data_region", "(null)"), ("data_region", "us"), ("data_region", "europe")),
        top=3,
    ),
    "day-since-until": ReportOptions(
        dims=("app_id", "is_byok", "finish_reason"), granularity="day", tz="Europe/Berlin", since="2026-10-20", until="2026-11-05"
    ),
}


def _compare_reports(root: Path, con, lake: SparkLake, options: ReportOptions, what: str) -> None:
    duck = query_report(con, root, options)
    sparks = query_report(lake, root, options)
    assert duck.columns == sparks.columns
    assert duck.types == sparks.types, what
    same_rows(duck.rows, sparks.rows, what)


@pytest.mark.parametrize("name", ["default", "tz-week-where-top"])
def test_the_report_gives_the_same_rows_on_spark_sample(name, sample):
    root, con, lake = sample
    _compare_reports(root, con, lake, REPORTS[name], f"sample {name}")


@pytest.mark.parametrize("name", ["every-group", "day-since-until"])
def test_the_report_gives_the_same_rows_on_spark_generated(name, generated):
    root, con, lake = generated
    _compare_reports(root, con, lake, REPORTS[name], f"generated {name}")


@pytest.mark.parametrize("name", ["default", "tz-week-where-top"])
def test_the_report_gives_the_same_rows_on_spark_with_merged_months(name, merged):
    root, con, lake = merged
    _compare_reports(root, con, lake, REPORTS[name], f"merged {name}")
    # A period inside a merged month and the daily days after it: the `date` filter on both layouts.
    period = ReportOptions(granularity="day", tz="Europe/Berlin", since="2026-09-25", until="2026-10-05")
    _compare_reports(root, con, lake, period, f"merged {name} period")


# --- the command line ------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["sample", "merged"])
def test_views_dialect_spark_registers_views_a_spark_session_can_query(spark, which, request):
    """The printed statements, run as a user would in a pyspark shell, give the lake's views."""
    report_sample_lake = request.getfixturevalue("report_sample_lake") if which == "sample" else request.getfixturevalue(which)[0]
    result = cli("views", "--dialect", "spark", "--lake", report_sample_lake)
    assert result.returncode == 0, result.stderr
    statements = [s for s in result.stdout.split(";\n") if s.strip()]
    first = "lake_generations" if which == "sample" else "orusage_generations_daily"
    assert statements[0].startswith(f"CREATE TABLE IF NOT EXISTS {first} (")
    database = "orusage_views_test"
    spark = spark.newSession()  # a shell of its own: none of the engine's temporary views
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {database}")
    spark.catalog.setCurrentDatabase(database)
    try:
        for statement in statements:
            spark.sql(statement)
        row = spark.sql("select count(*) as n, round(sum(total_cost), 6) as spend from generations").collect()[0]
        duck = views.connect(report_sample_lake)
        n, spend = duck.execute("select count(*), round(sum(total_cost), 6) from generations").fetchone()
        duck.close()
        assert (row.n, row.spend) == (n, spend)
        assert spark.sql("select count(*) from provider_attempts").collect()[0][0] > 0
    finally:
        spark.catalog.setCurrentDatabase("default")
        spark.sql(f"DROP DATABASE {database} CASCADE")


def test_engine_spark_without_pyspark_says_how_to_install_it(report_sample_lake):
    """A Python without pyspark (its import blocked): one line, the install command, exit 1."""
    code = "import sys; sys.modules['pyspark'] = None; sys.argv[0] = 'orusage'; from pipeline.cli.main import main; main()"
    for args in (["report", "--engine", "spark"], ["sql", "select 1", "--engine", "spark"]):
        result = subprocess.run(
            [sys.executable, "-c", code, *args, "--lake", str(report_sample_lake)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ},
            timeout=60,
        )
        assert result.returncode == 1, result.stderr
        expected = (
            "Error: --engine spark needs pyspark, which is not installed. "
            "Install it with `pip install 'orusage[spark]'` (or `make venv EXTRAS=spark` in a checkout)."
        )
        assert result.stderr.strip().splitlines() == [expected]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory):
    """A Spark Connect server on 127.0.0.1 (the jar ships with pyspark 4), stopped at the end."""
    import pyspark

    home = Path(pyspark.__file__).parent
    port = _free_port()
    log = tmp_path_factory.mktemp("spark-connect") / "server.log"
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    command = [
        str(home / "bin" / "spark-submit"),
        "--master", "local[2]",
        "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf", f"spark.connect.grpc.binding.port={port}",
        "--conf", "spark.ui.enabled=false",
        "spark-internal",
    ]  # fmt: skip
    with log.open("w") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, log.read_text()[-2000:]
                assert time.monotonic() < deadline, "the Spark Connect server did not start within 120 s"
                time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}", log
    finally:
        server.terminate()
        server.wait(60)


def test_the_report_runs_on_a_spark_connect_server(connect_server, report_sample_lake):
    """`orusage report --engine spark` with the server from $ORUSAGE_SPARK_REMOTE: DuckDB's rows."""
    options = ("--by", "model,data_region", "--granularity", "month", "--tz", "Europe/Berlin", "--top", "4", "--format", "json")
    duck = cli("report", "--lake", report_sample_lake, *options)
    assert duck.returncode == 0, duck.stderr
    remote, log = connect_server
    assert "SessionHolder: Session with" not in log.read_text()
    spark = cli("report", "--lake", report_sample_lake, "--engine", "spark", *options, env={"ORUSAGE_SPARK_REMOTE": remote})
    assert spark.returncode == 0, spark.stderr
    assert "SessionHolder: Session with" in log.read_text()  # the server ran it
    same_rows(json.loads(duck.stdout), json.loads(spark.stdout), "report through Spark Connect")


def test_a_jvm_that_ends_mid_query_is_one_error_saying_what_to_do(spark, report_sample_lake):
    """Last in the module: it ends the module's JVM. A driver JVM that dies while a query runs (an
    OutOfMemoryError kills it the same way) is an OrusageError that names the query and how to give
    Spark more memory, not py4j's traceback; the lake's close has nothing left to stop."""
    lake = SparkLake(spark.newSession(), report_sample_lake, owned=False)
    jvm = spark.sparkContext._gateway.proc
    tracker = spark.sparkContext.statusTracker()
    ran = []

    def end_the_jvm_once_the_query_runs() -> None:
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not tracker.getActiveStageIds():
                time.sleep(0.05)
            ran.append(bool(tracker.getActiveStageIds()))
        finally:
            jvm.kill()

    killer = threading.Thread(target=end_the_jvm_once_the_query_runs)
    killer.start()
    try:
        endless = "select count(*) as n from generations a, generations b, generations c, generations d"
        with pytest.raises(OrusageError) as caught:  # about 2e14 rows: it runs until the JVM ends
            lake.arrow(endless, what="the cross join")
    finally:
        killer.join()
    assert ran == [True]
    message = str(caught.value)
    assert message.startswith("Spark stopped while running the cross join: its JVM ended"), message
    assert "SPARK_DRIVER_MEMORY" in caught.value.fix and "\n" not in message
    assert jvm.wait(30) is not None and not lake.alive()
    lake.close()
