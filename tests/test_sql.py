"""The views, `<lake>/orusage.duckdb`, the SQL files and `orusage sql`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from conftest import ROOT, ingest, lake_rows, record, write_jsonl
from pipeline.cli.main import main
from pipeline.errors import OrusageError
from pipeline.lake import views
from pipeline.schema import sqlfiles
from pipeline.schema.table import duckdb_columns, lake_arrow_schema, resource_dir


def run(*args, input: str | None = None):
    """`orusage ARGS` in-process (click's CliRunner): exit code, stdout and stderr apart."""
    result = CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


DERIVED = {
    "day": "DATE",
    "billed_tokens": "BIGINT",
    "cache_hit": "BOOLEAN",
    "attempt_count": "BIGINT",
    "is_fallback": "BOOLEAN",
    "is_response_cache_hit": "BOOLEAN",
    "is_error": "BOOLEAN",
    "throughput": "DOUBLE",
}
DATA_TESTS = [n for n in sqlfiles.names() if n.startswith("tests/")]
# The files of the report and views (other files of sql/ belong to other commands).
REPORT_SQL = [
    n for n in sqlfiles.names() if n.startswith(("views/", "tests/")) or n in ("report", "bench_baseline", "bench_percentiles")
]


def column_types(con, view: str) -> dict[str, str]:
    return {row[0]: row[1] for row in con.sql(f"DESCRIBE {view}").fetchall()}  # view: a constant name


def declared_types() -> dict[str, str]:
    """duckdb_columns(lineage=True) as DuckDB spells the types back (DESCRIBE of a table)."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (" + ", ".join(f'"{k}" {v}' for k, v in duckdb_columns(lineage=True).items()) + ")")
    return column_types(con, "t")


# --- the views ------------------------------------------------------------------------------


def test_generations_view_has_the_declared_columns_and_types(report_sample_lake):
    con = views.connect(report_sample_lake)
    types = column_types(con, "generations")
    declared = declared_types()
    assert list(types)[: len(declared)] == list(declared)
    assert {k: types[k] for k in declared} == declared
    assert {k: types[k] for k in DERIVED} == DERIVED
    assert con.sql("SELECT count(*) FROM generations").fetchall()[0][0] == lake_rows(report_sample_lake).height


def test_empty_lake_has_every_view_typed_and_empty(tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    path = views.refresh_views(lake)
    assert path == lake / "orusage.duckdb"
    con = views.connect(lake)
    for view in views.VIEWS:
        assert con.sql(f"SELECT count(*) FROM {view}").fetchall() == [(0,)]
    assert {k: v for k, v in column_types(con, "generations").items() if k in declared_types()} == declared_types()
    assert column_types(con, "quarantine")["reasons"] == "VARCHAR[]"
    for name in DATA_TESTS:
        assert sqlfiles.run_file(con, name).fetchall() == [], name


def test_provider_attempts_unnest_in_order(tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", [record(1), record(2, provider_responses=None), record(3, provider_responses=[])])
    ingest([data], tmp_path / "lake")
    con = views.connect(tmp_path / "lake")
    rows = con.sql(
        "SELECT generation_id, attempt_number, attempt_count, is_served, provider_name, status, status_class, is_failed "
        "FROM provider_attempts ORDER BY generation_id, attempt_number"
    ).fetchall()
    gid = record(1)["id"]
    assert rows == [
        (gid, 1, 2, False, "Amazon Bedrock", 429, "429", True),
        (gid, 2, 2, True, "Anthropic", 200, "2xx", False),
    ]
    derived = con.sql("SELECT id, attempt_count, is_fallback, billed_tokens, cache_hit FROM generations ORDER BY id").fetchall()
    assert derived == [
        (gid, 2, True, 165, True),
        (record(2)["id"], None, None, 165, True),
        (record(3)["id"], 0, False, 165, True),
    ]


def test_data_tests_pass_on_the_sample(report_sample_lake):
    con = views.connect(report_sample_lake)
    assert len(DATA_TESTS) >= 5
    for name in DATA_TESTS:
        assert sqlfiles.run_file(con, name).fetchall() == [], name


def test_data_tests_catch_broken_data(tmp_path):
    """A directory laid out like a lake (no versions) with duplicate ids, a null key and an
    attempt list without a served attempt: the data tests must return those rows."""
    lake = tmp_path / "broken"
    rows = lake_rows(_sample_lake(tmp_path)).head(3)
    bad = pl.concat([rows, rows.head(1)]).with_columns(
        pl.when(pl.int_range(pl.len()) == 1).then(None).otherwise(pl.col("model")).alias("model")
    )
    target = lake / "generations" / "date=2026-09-01" / "part.parquet"
    target.parent.mkdir(parents=True)
    loose = pa.schema([f.with_nullable(True) for f in lake_arrow_schema()])
    pq.write_table(bad.to_arrow().cast(loose), target)
    con = views.connect(lake)
    assert [r[0] for r in sqlfiles.run_file(con, "tests/generations_id_unique").fetchall()] == [rows["id"][0]]
    missing = sqlfiles.run_file(con, "tests/generations_keys_not_null").fetchall()
    assert [(r[0], r[3]) for r in missing] == [(rows["id"][1], ["model"])]
    assert sqlfiles.run_file(con, "tests/provider_attempts_grain_unique").fetchall() != []  # the duplicate id
    unknown_runs = sqlfiles.run_file(con, "tests/runs_run_id_unique").fetchall()
    assert {r[1] for r in unknown_runs} == {"generation rows of an unknown run"}


def _sample_lake(tmp_path: Path) -> Path:
    lake = tmp_path / "small"
    if not lake.exists():
        data = write_jsonl(tmp_path / "small.jsonl", [record(i) for i in range(3)])
        ingest([data], lake)
    return lake


# --- the database file -----------------------------------------------------------------------


def test_views_database_opens_in_a_stock_duckdb_from_the_lake_directory(report_sample_lake):
    """What `cd lake && duckdb orusage.duckdb` does: a plain DuckDB, the lake as working directory."""
    script = (
        "import duckdb; con = duckdb.connect('orusage.duckdb', read_only=True); "
        "print(con.sql('select count(*) from generations').fetchall()[0][0]); "
        "print(con.sql('select count(*) from quarantine').fetchall()[0][0]); "
        "print(con.sql('select sum(rows_written) from runs').fetchall()[0][0])"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=report_sample_lake, capture_output=True, text=True, check=True)
    generations, quarantined, written = map(int, out.stdout.split())
    assert generations == written == lake_rows(report_sample_lake).height
    assert quarantined > 0
    # elsewhere, the relative paths do not resolve: the docs say to open it from the lake
    elsewhere = subprocess.run(
        [sys.executable, "-c", script.replace("'orusage.duckdb'", repr(str(report_sample_lake / "orusage.duckdb")))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert elsewhere.returncode != 0


def test_refresh_replaces_the_file_atomically(tmp_path):
    lake = _sample_lake(tmp_path)
    first = views.refresh_views(lake)
    reader = duckdb.connect(str(first), read_only=True, config={"file_search_path": str(lake)})
    before = reader.sql("SELECT count(*) FROM generations").fetchall()
    ingest([write_jsonl(tmp_path / "more.jsonl", [record(10), record(11)])], lake)
    second = views.refresh_views(lake)
    assert second == first
    assert reader.sql("SELECT count(*) FROM generations").fetchall() == [(5,)] == [(before[0][0] + 2,)]
    reader.close()
    leftovers = [p.name for p in lake.iterdir() if p.name.startswith(".orusage") or p.name.endswith(".wal")]
    assert leftovers == []
    con = duckdb.connect(str(second), read_only=True)
    version, digest = con.sql("SELECT version, sql_digest FROM _orusage_views").fetchall()[0]
    assert version == views.current_version(lake) and digest == views.sql_digest()


def test_connect_uses_the_file_only_when_it_is_current(tmp_path):
    lake = _sample_lake(tmp_path)
    views.refresh_views(lake)
    con = views.connect(lake)
    assert con.sql("SELECT database_name FROM duckdb_databases() WHERE NOT internal").fetchall() == [("orusage",)]
    ingest([write_jsonl(tmp_path / "later.jsonl", [record(20)])], lake)  # a new version, no refresh
    con = views.connect(lake)
    assert con.sql("SELECT database_name FROM duckdb_databases() WHERE NOT internal").fetchall() == [("memory",)]
    assert con.sql("SELECT count(*) FROM generations").fetchall() == [(4,)]


# --- SQL files --------------------------------------------------------------------------------


def test_sql_dir_is_the_resource_dir():
    assert sqlfiles.sql_dir() == resource_dir("sql")


# Every other query of sql/ (checks, reconcile, maintenance, quarantine) keeps the same contract.
OTHER_SQL = [n for n in sqlfiles.names() if n not in REPORT_SQL]


@pytest.mark.parametrize("name", REPORT_SQL + OTHER_SQL)
def test_every_sql_file_opens_with_its_contract(name):
    text = sqlfiles.load(name)
    head = sqlfiles.header(text)
    assert head.splitlines()[0].startswith(name.split("/")[-1] + ":"), name
    for part in ("Purpose", "Grain", "Inputs", "Output", "Params"):
        assert part in head, f"{name}: header lacks {part}"
    declared = set(sqlfiles.parameters(head.split("Params", 1)[1]))
    assert set(sqlfiles.parameters(text)) == declared, name
    if not declared:
        assert "none" in head.split("Params", 1)[1].splitlines()[0], name


def test_parameters_skip_comments_strings_and_identifiers():
    sql = "-- $not_this\nselect '$nor_this', \"$col\", $a /* $no */ from t where x = $b and y = $a"
    assert sqlfiles.parameters(sql) == ("a", "b")


def test_run_binds_only_declared_parameters():
    con = duckdb.connect()
    assert sqlfiles.run(con, "select $x + 1 as y", {"x": 41}).fetchall() == [(42,)]
    with pytest.raises(OrusageError, match=r"needs the parameter\(s\) \$x"):
        sqlfiles.run(con, "select $x", {})
    with pytest.raises(OrusageError, match=r"has no parameter\(s\) \$y"):
        sqlfiles.run(con, "select $x", {"x": 1, "y": 2})
    assert sqlfiles.run(con, "select map_contains($m, 'a')", {"m": {"a": [1]}}).fetchall() == [(True,)]


def test_unknown_sql_name_is_an_error():
    with pytest.raises(OrusageError, match="no SQL file named 'nope'"):
        sqlfiles.load("nope")


# --- orusage sql ------------------------------------------------------------------------------


def test_sql_command_formats(report_sample_lake, tmp_path):
    query = "select model, count(*) as requests from generations group by model order by requests desc, model"
    expected = lake_rows(report_sample_lake).group_by("model").len().sort(["len", "model"], descending=[True, False])
    out = run("sql", query, "--lake", report_sample_lake, "--format", "csv")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "model,requests" and lines[1] == f"{expected['model'][0]},{expected['len'][0]}"
    rows = json.loads(run("sql", query, "--lake", report_sample_lake, "--format", "json").stdout)
    assert rows[0] == {"model": expected["model"][0], "requests": expected["len"][0]}
    assert run("sql", query, "--lake", report_sample_lake, "--format", "parquet", "--out", tmp_path / "q.parquet").returncode == 0
    assert pq.read_table(tmp_path / "q.parquet").num_rows == expected.height
    table = run("sql", query, "--lake", report_sample_lake)
    assert expected["model"][0] in table.stdout and f"{expected.height} row(s)" in table.stderr


def test_sql_command_binds_parameters(report_sample_lake):
    model = lake_rows(report_sample_lake)["model"][0]
    count = lake_rows(report_sample_lake).filter(pl.col("model") == model).height
    out = run(
        "sql",
        "select count(*) as n from generations where model = $model",
        "-p",
        f"model={model}",
        "--lake",
        report_sample_lake,
        "--format",
        "csv",
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["n", str(count)]
    listed = run("sql", "select len($xs) as n", "-p", 'xs=["a", "b"]', "--lake", report_sample_lake, "--format", "csv")
    assert listed.stdout.splitlines() == ["n", "2"]


def test_sql_command_runs_files_by_path_and_by_name(report_sample_lake, tmp_path):
    query = tmp_path / "q.sql"
    query.write_text("-- a query\nselect count(*) as n from quarantine where run_id is not null\n")
    out = run("sql", query, "--lake", report_sample_lake, "--format", "csv")
    assert out.returncode == 0 and int(out.stdout.splitlines()[1]) > 0
    by_name = run("sql", "tests/generations_id_unique", "--lake", report_sample_lake, "--format", "csv")
    assert by_name.returncode == 0 and by_name.stdout.strip() == "id,copies,dates"
    report = run(
        "sql",
        "report",
        "--lake",
        report_sample_lake,
        "--format",
        "csv",
        "-p",
        'dims=["model"]',
        "-p",
        "granularity=null",
        "-p",
        "tz=UTC",
        "-p",
        "since=null",
        "-p",
        "until=null",
        "-p",
        "filters={}",
        "-p",
        "top=2",
        "-p",
        "from_rollup=false",
    )
    assert report.returncode == 0, report.stderr
    assert report.stdout.splitlines()[0].startswith("breakdown,period,dim1,dim2,dim3,dim4,is_other,")
    assert len(report.stdout.splitlines()) == 1 + 1 + 3  # header, total, 2 models and (other)


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["select $x"], 2, "Error: -p: the query needs the parameter(s) $x. Pass each with -p NAME=VALUE"),
        (["select 1", "-p", "x=1"], 2, "Error: -p: the query has no parameter(s) $x. It takes: none."),
        (["select nope from generations"], 1, 'Error: the query failed: Binder Error: Referenced column "nope" not found'),
        (["nope"], 1, "Error: no SQL file named 'nope'."),
        (["select 1", "-p", "=1"], 2, "Error: -p '=1' is not NAME=VALUE."),
        (["select 1", "--format", "parquet"], 2, "--out FILE.parquet"),
    ],
)
def test_sql_command_errors(report_sample_lake, args, code, message):
    out = run("sql", *args, "--lake", report_sample_lake)
    assert out.returncode == code, out.stderr
    assert message in out.stderr
    assert out.stderr.startswith("Error: ") and len(out.stderr.strip().splitlines()) == 1


def test_sql_command_needs_a_lake(tmp_path):
    out = run("sql", "select 1", "--lake", tmp_path / "none")
    assert out.returncode == 1 and out.stderr.startswith("Error: no lake at ")


def test_sql_shell_reads_statements(report_sample_lake):
    out = run(
        "sql", "--lake", report_sample_lake,
        input="select 40 +\n 2 as answer;\n.tables\nselect count(*) as n from runs;\n.quit\nselect 'not run' as after_quit;\n",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "42" in out.stdout and "answer" in out.stdout
    assert "generations" in out.stdout and "provider_attempts" in out.stdout
    assert "after_quit" not in out.stdout and out.stderr == ""


def test_sql_shell_dot_commands(report_sample_lake):
    out = run("sql", "--lake", report_sample_lake, input=".help\n.schema runs\n.exit\n")
    assert out.returncode == 0, out.stderr
    for command in (".help", ".tables", ".schema", ".quit", ".exit"):
        assert command in out.stdout, command
    assert "runs:\n  run_id VARCHAR\n" in out.stdout and "generations:" not in out.stdout
    assert "Parser Error" not in out.stdout + out.stderr
    unknown = run("sql", "--lake", report_sample_lake, input="select 'ran' as first;\n.frobnicate\nselect 'ran' as second;\n")
    assert unknown.returncode == 1
    assert unknown.stderr == "Error: line 2: unknown command .frobnicate. Type .help for the commands.\n"
    assert "first" in unknown.stdout and "second" not in unknown.stdout


def test_sql_script_stops_at_the_first_failing_statement(report_sample_lake):
    script = "select 1 as first;\n\nselect nope\n  from generations;\nselect 3 as third;\n"
    out = run("sql", "--lake", report_sample_lake, input=script)
    assert out.returncode == 1
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: line 3: Binder Error: "), out.stderr
    assert "nope" in lines[0] and lines[0].endswith("The script stopped here.")
    assert "first" in out.stdout and "third" not in out.stdout
    # The last statement of a script may end without ';'.
    last = run("sql", "--lake", report_sample_lake, input="select 1 as first;\nselect 2 as second")
    assert last.returncode == 0 and "second" in last.stdout


def test_sql_interactive_shell_goes_on_after_an_error(report_sample_lake, monkeypatch, capsys):
    import io

    from pipeline.cli.sql_shell import seal, shell

    monkeypatch.setattr("sys.stdin", io.StringIO("select nope;\n.nope\nselect 7 as seven;\n"))
    con = views.connect(report_sample_lake)
    try:
        seal(con)
        code = shell(con, report_sample_lake, interactive=True)
    finally:
        con.close()
    captured = capsys.readouterr()
    assert code == 0
    assert ".help lists the commands" in captured.out and "seven" in captured.out
    assert [line.split(":")[0] + ":" + line.split(":")[1] for line in captured.err.splitlines()] == [
        "Error: line 1",
        "Error: line 2",
    ]


def lake_listing(lake: Path) -> dict:
    """Every path under the lake (links not followed) with its size and mtime, or its target."""
    import os

    out = {}
    for dirpath, dirs, files in os.walk(lake):
        for name in dirs + files:
            path = Path(dirpath) / name
            st = path.lstat()
            out[str(path.relative_to(lake))] = os.readlink(path) if path.is_symlink() else (st.st_size, st.st_mtime_ns)
    return out


@pytest.mark.parametrize(
    "statement",
    [
        "COPY (SELECT 1 AS x) TO '{lake}/generations/x.parquet'",
        "COPY (SELECT * FROM generations LIMIT 1) TO 'generations/date=2026-09-02/x.parquet' (FORMAT parquet)",
        "EXPLAIN ANALYZE COPY (SELECT 1) TO '{lake}/generations/x.csv'",
        "SELECT 1; PREPARE p AS COPY (SELECT 1) TO '{lake}/x.csv'",
        "EXPORT DATABASE '{lake}/generations/export'",
        "ATTACH '{lake}/generations/x.duckdb' AS x",
    ],
)
def test_sql_cannot_write_into_the_lake(tmp_path, monkeypatch, statement):
    lake = tmp_path / "lake"
    ingest([write_jsonl(tmp_path / "in.jsonl", [record(1), record(2)])], lake)
    views.refresh_views(lake)
    monkeypatch.chdir(lake)  # a relative path would land in the lake too
    before = lake_listing(lake)
    out = run("sql", statement.format(lake=lake), "--lake", lake)
    assert out.returncode == 1
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "was refused" in lines[0] and "--out FILE" in lines[0]
    assert lake_listing(lake) == before
    script = run("sql", "--lake", lake, input="select 1 as a;\n" + statement.format(lake=lake) + ";\nselect 2 as b;\n")
    assert script.returncode == 1 and script.stderr.startswith("Error: line 2: ") and "--out FILE" in script.stderr
    assert lake_listing(lake) == before


def test_sql_settings_that_would_write_are_locked_and_the_views_still_read(tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    ingest([write_jsonl(tmp_path / "in.jsonl", [record(1), record(2)])], lake)
    views.refresh_views(lake)
    before = lake_listing(lake)
    script = (
        f"SET profiling_output = '{lake}/generations/profile.json';\n"
        "PRAGMA enable_profiling = 'json';\nselect count(*) as n from generations;\n"
    )
    out = run("sql", "--lake", lake, input=script)
    assert out.returncode == 1 and out.stderr.startswith("Error: line 1: ") and "locked" in out.stderr
    assert lake_listing(lake) == before
    zone = run(
        "sql",
        "SET TimeZone = 'Asia/Tokyo'; select current_setting('TimeZone') as tz, count(*) as n from generations",
        "--lake",
        lake,
        "--format",
        "csv",
    )
    assert zone.returncode == 0, zone.stderr
    assert zone.stdout.splitlines() == ["tz,n", "Asia/Tokyo,2"]
    # --out is the way to write a result; it refuses a path inside the lake.
    target = tmp_path / "n.csv"
    saved = run("sql", "select count(*) as n from generations", "--lake", lake, "--format", "csv", "--out", target)
    assert saved.returncode == 0 and target.read_text().splitlines() == ["n", "2"]
    inside = run("sql", "select 1", "--lake", lake, "--format", "csv", "--out", lake / "generations" / "x.csv")
    assert inside.returncode == 2 and "--out" in inside.stderr and "inside the lake" in inside.stderr
    assert lake_listing(lake) == before


def test_make_targets_are_listed():
    out = subprocess.run(["make", "help"], cwd=ROOT, capture_output=True, text=True, check=True)
    for target in ("report", "sql", "golden"):
        assert f"make {target}" in out.stdout


def test_arrow_schema_of_empty_source_matches_files(report_sample_lake):
    """The empty stand-in of lake_generations has the columns and types of real files."""
    con = views.connect(report_sample_lake)
    real = column_types(con, "lake_generations")
    empty = duckdb.connect()
    empty.register("e", pa.table({f.name: pa.array([], f.type) for f in lake_arrow_schema()}))
    assert {r[0]: r[1] for r in empty.sql("DESCRIBE e").fetchall()} == {k: real[k] for k in lake_arrow_schema().names}
