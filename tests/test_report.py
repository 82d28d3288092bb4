"""`orusage report`: numbers checked against an independent polars computation over the same
Parquet files, `--top` against the untruncated report, periods across DST, empty selections,
formats, errors and docs."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conftest import ROOT, cli, ingest, record, write_jsonl
from pipeline.cli.main import main
from pipeline.errors import OrusageError
from pipeline.query.report import DIMENSIONS, ReportOptions, run_report


def run(*args, input: str | None = None):
    """`orusage ARGS` in-process (click's CliRunner): exit code, stdout and stderr apart."""
    result = CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


ADDITIVE = (
    "requests",
    "total_cost",
    "usage",
    "upstream_inference_cost",
    "cache_discount",
    "tokens_prompt",
    "tokens_completion",
    "native_tokens_prompt",
    "native_tokens_completion",
    "native_tokens_reasoning",
    "native_tokens_cached",
    "billed_tokens",
    "requests_with_attempts",
    "attempts",
    "response_cache_hits",
)
FLOATS = {"total_cost", "usage", "upstream_inference_cost", "cache_discount"}


# --- an independent computation: polars over the lake's Parquet files ------------------------


def lake_frame(lake: Path) -> pl.DataFrame:
    files = sorted((lake / "generations").glob("date=*/*.parquet"))
    return pl.concat([pl.read_parquet(f, hive_partitioning=False) for f in files], how="vertical_relaxed")


def label(column: str) -> pl.Expr:
    """The report's label of a dimension value: (null), (empty), a value that looks like a label
    between double quotes, else the value as text."""
    text = pl.col(column).cast(pl.Utf8)
    if column == "is_byok":
        text = pl.when(pl.col(column)).then(pl.lit("true")).otherwise(pl.lit("false"))
    looks_like_label = text.is_in(["(null)", "(empty)", "(other)"]) | (
        (text.str.len_chars() >= 2) & text.str.starts_with('"') & text.str.ends_with('"')
    )
    return (
        pl.when(pl.col(column).is_null())
        .then(pl.lit("(null)"))
        .when(text == "")
        .then(pl.lit("(empty)"))
        .when(looks_like_label)
        .then(pl.lit('"') + text + pl.lit('"'))
        .otherwise(text)
    )


def _instant(local: str, zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=zone).astimezone(UTC)


def select_rows(frame: pl.DataFrame, options: ReportOptions) -> pl.DataFrame:
    zone = ZoneInfo(options.tz)
    if options.since:
        frame = frame.filter(pl.col("created_at") >= _instant(options.since, zone))
    if options.until:
        frame = frame.filter(pl.col("created_at") < _instant(options.until, zone))
    wanted: dict[str, list[str]] = {}
    for name, value in options.where:
        wanted.setdefault(name, []).append(value)
    for name, values in wanted.items():
        frame = frame.filter(label(name).is_in(values))
    every = {"day": "1d", "week": "1w", "month": "1mo"}
    period = (
        pl.col("created_at").dt.convert_time_zone(options.tz).dt.truncate(every[options.granularity]).dt.date()
        if options.granularity
        else pl.lit(None, dtype=pl.Date)
    )
    return frame.with_columns(
        period.alias("period"),
        *(label(d).alias(f"label_{d}") for d in options.dims),
        (pl.col("provider_responses").list.len()).alias("attempt_count"),
    )


def expected_groups(rows: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return (
        rows.group_by(keys)
        .agg(
            pl.len().alias("requests"),
            pl.col("total_cost").sum(),
            pl.col("usage").sum(),
            pl.col("upstream_inference_cost").sum(),
            pl.col("cache_discount").sum(),
            pl.col("tokens_prompt").sum(),
            pl.col("tokens_completion").sum(),
            pl.col("native_tokens_prompt").sum(),
            pl.col("native_tokens_completion").sum(),
            pl.col("native_tokens_reasoning").sum(),
            pl.col("native_tokens_cached").sum(),
            (pl.col("native_tokens_prompt").fill_null(0) + pl.col("native_tokens_completion").fill_null(0))
            .sum()
            .alias("billed_tokens"),
            (pl.col("attempt_count").fill_null(0) > 0).sum().alias("requests_with_attempts"),
            pl.col("attempt_count").fill_null(0).sum().alias("attempts"),
            pl.col("response_cache_source_id").is_not_null().sum().alias("response_cache_hits"),
            pl.col("cancelled").fill_null(False).sum().alias("cancelled"),
            (pl.col("finish_reason") == "error").fill_null(False).sum().alias("errors"),
            pl.col("latency").median().alias("latency_p50_ms"),
        )
        .sort(keys, nulls_last=True)
    )


def report_frame(result) -> pl.DataFrame:
    """The report as a frame with the dimension labels (what the terminal shows), against which
    the polars computation groups its labels."""
    frame = pl.from_arrow(result.arrow)
    return frame.with_columns(pl.Series(d, [row[d] for row in result.rows], dtype=pl.Utf8) for d in result.options.dims)


def assert_matches(result, options: ReportOptions, frame: pl.DataFrame) -> None:
    rows = select_rows(frame, options)
    got = report_frame(result)
    if rows.height == 0:
        assert result.empty
        return
    total = got.filter(pl.col("breakdown") == "total")
    assert total.height == 1
    exp_total = expected_groups(rows.with_columns(pl.lit(1).alias("_all")), ["_all"])
    for column in ADDITIVE:
        _close(total[column][0], exp_total[column][0], column)
    breakdowns = [("period", ["period"])] if options.granularity else []
    if len(options.dims) > 1:
        breakdowns.append(("+".join(options.dims), list(options.dims)))
    breakdowns += [(d, [d]) for d in options.dims]
    assert set(got["breakdown"].unique()) == {"total"} | {name for name, _ in breakdowns}
    for name, dims in breakdowns:
        part = got.filter(pl.col("breakdown") == name)
        # every breakdown adds up to the total, (other) row included
        for column in ADDITIVE:
            _close(part[column].sum(), exp_total[column][0], f"{name}.{column}")
        keys = ([] if dims == ["period"] else (["period"] if options.granularity else [])) + dims
        label_keys = [k if k == "period" else f"label_{k}" for k in keys]
        expected = expected_groups(rows, label_keys).rename({f"label_{k}": k for k in dims if k != "period"})
        kept = part.filter(~pl.col("is_other")).select(keys + list(ADDITIVE) + ["latency_p50_ms"]).sort(keys, nulls_last=True)
        if options.top is None or name == "period":
            assert kept.height == expected.height, name
            for column in ADDITIVE:
                for a, b in zip(kept[column].to_list(), expected[column].to_list(), strict=True):
                    _close(a, b, f"{name}.{column}")
            for a, b in zip(kept["latency_p50_ms"].to_list(), expected["latency_p50_ms"].to_list(), strict=True):
                _close(a, b, f"{name}.latency_p50_ms")
        else:
            joined = kept.join(expected, on=keys, how="left", suffix="_exp", nulls_equal=True)
            for column in ("requests", "total_cost", "native_tokens_prompt"):
                for a, b in zip(joined[column].to_list(), joined[f"{column}_exp"].to_list(), strict=True):
                    _close(a, b, f"{name}.{column}")


def _close(a, b, what: str) -> None:
    if a is None or b is None:
        assert (a or 0) == pytest.approx(b or 0, rel=1e-9, abs=1e-9), what
    else:
        assert a == pytest.approx(b, rel=1e-9, abs=1e-9), what


# --- the sample lake ------------------------------------------------------------------------


def test_default_report_matches_polars(report_sample_lake):
    options = ReportOptions()
    result = run_report(report_sample_lake, options)
    frame = lake_frame(report_sample_lake)
    assert result.total["requests"] == frame.height
    assert [name for name, _rows in result.breakdowns()] == [
        "model+provider_name+data_region+app_id",
        "model",
        "provider_name",
        "data_region",
        "app_id",
    ]
    assert_matches(result, options, frame)


def test_grain_is_unique(report_sample_lake):
    result = run_report(report_sample_lake, ReportOptions(granularity="week", top=3))
    got = report_frame(result)
    keys = ["breakdown", "period", *result.options.dims, "is_other"]
    assert got.select(keys).is_duplicated().sum() == 0
    assert got.filter(pl.col("requests") <= 0).height == 0


def _where_pairs(frame: pl.DataFrame) -> list[tuple[str, str]]:
    pairs = [("data_region", "no-such-region")]
    for name in ("model", "provider_name", "data_region", "app_id", "api_type", "is_byok", "finish_reason", "service_tier"):
        values = frame.select(label(name).alias("v")).get_column("v").value_counts(sort=True).get_column("v").to_list()
        pairs += [(name, v) for v in values[:3]]
    return pairs


@pytest.fixture(scope="module")
def sample_frame(report_sample_lake) -> pl.DataFrame:
    return lake_frame(report_sample_lake)


@settings(
    max_examples=8,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: each example runs a report
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_report_sums_equal_polars(report_sample_lake, sample_frame, data):
    """Property: for any dimensions, periods, zone, time window, filters and --top, every group's
    sums equal polars' over the same Parquet rows, and every breakdown adds up to the total."""
    dims = data.draw(st.lists(st.sampled_from(DIMENSIONS), min_size=1, max_size=4, unique=True), label="dims")
    granularity = data.draw(st.sampled_from([None, "day", "week", "month"]), label="granularity")
    tz = data.draw(st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"]), label="tz")
    day = st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 10, 20))
    since = data.draw(st.one_of(st.none(), day), label="since")
    until = data.draw(st.one_of(st.none(), day), label="until")
    if since and until and since >= until:
        since, until = (until, since) if since > until else (since, None)
    where = data.draw(st.lists(st.sampled_from(_where_pairs(sample_frame)), max_size=2, unique=True), label="where")
    top = data.draw(st.one_of(st.none(), st.integers(1, 4)), label="top")
    options = ReportOptions(
        dims=tuple(dims),
        granularity=granularity,
        tz=tz,
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
        where=tuple(where),
        top=top,
    )
    result = run_report(report_sample_lake, options)
    assert_matches(result, result.options, sample_frame)


def test_top_totals_equal_untruncated(report_sample_lake):
    full = report_frame(run_report(report_sample_lake, ReportOptions(granularity="month")))
    for top in (1, 3):
        cut = report_frame(run_report(report_sample_lake, ReportOptions(granularity="month", top=top)))
        for (name, period), part in cut.group_by(["breakdown", "period"], maintain_order=True):
            whole = full.filter((pl.col("breakdown") == name) & pl.col("period").eq_missing(period))
            for column in ADDITIVE:
                _close(part[column].sum(), whole[column].sum(), f"top {top} {name} {period} {column}")
            if name not in ("total", "period"):
                assert part.filter(~pl.col("is_other")).height <= top
        # a kept group's row is the untruncated row, every column
        kept = cut.filter(~pl.col("is_other") & (pl.col("breakdown") == "model"))
        keys = ["breakdown", "period", "model"]
        joined = kept.join(full, on=keys, how="left", suffix="_full", nulls_equal=True)
        for column in ("requests", "total_cost", "latency_p90_ms", "throughput_p50_tps", "fallback_rate", "spend_share"):
            for a, b in zip(joined[column].to_list(), joined[f"{column}_full"].to_list(), strict=True):
                _close(a, b, f"top {top} kept {column}")
    # the kept groups are the largest by spend over the whole selection
    cut = report_frame(run_report(report_sample_lake, ReportOptions(dims=("model",), top=3)))
    spend = (
        full.filter(pl.col("breakdown") == "model")
        .group_by("model")
        .agg(pl.col("total_cost").sum())
        .sort("total_cost", descending=True)
    )
    kept = set(cut.filter((pl.col("breakdown") == "model") & ~pl.col("is_other"))["model"])
    assert kept == set(spend["model"].head(3))
    other = cut.filter(pl.col("is_other"))
    assert other.height == 1 and other["model"][0] == "(other)"
    model_rows = cut.filter(pl.col("breakdown") == "model")
    assert (
        other["requests"][0]
        == cut.filter(pl.col("breakdown") == "total")["requests"][0] - model_rows.filter(~pl.col("is_other"))["requests"].sum()
    )


QUANTILES = {"latency": ("latency", "ms"), "generation_time": ("generation_time", "ms"), "throughput": ("throughput", "tps")}


def _quantile_rows(rows: pl.DataFrame) -> pl.DataFrame:
    """The rows with the throughput the report defines (tokens/s; null without generation time)."""
    gen = pl.col("generation_time")
    throughput = pl.when(gen > 0).then(pl.col("native_tokens_completion") / (gen / 1000.0)).otherwise(None)
    return rows.with_columns(throughput.alias("throughput"))


def _expected_percentiles(rows: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    aggs = [
        pl.col(column).quantile(q / 100, interpolation="linear").alias(f"{metric}_p{q}_{unit}")
        for metric, (column, unit) in QUANTILES.items()
        for q in (50, 90, 99)
    ]
    return rows.group_by(keys).agg(aggs) if keys else rows.select(aggs)


@pytest.mark.parametrize(
    "options",
    [
        ReportOptions(),
        ReportOptions(dims=("model", "provider_name"), granularity="month", top=2),
        ReportOptions(dims=("app_id", "finish_reason", "is_byok"), top=3, tz="America/New_York", granularity="week"),
    ],
    ids=["default", "top2-month", "top3-week"],
)
def test_percentiles_are_exact_in_every_breakdown(report_sample_lake, sample_frame, options):
    """p50/p90/p99 of latency, generation time and throughput of every group of every breakdown,
    the (other) rows of --top included, equal polars' linear-interpolated quantiles of the rows
    of the group."""
    result = run_report(report_sample_lake, options)
    options = result.options
    got = report_frame(result)
    rows = _quantile_rows(select_rows(sample_frame, options))
    columns = [f"{metric}_p{q}_{unit}" for metric, (_c, unit) in QUANTILES.items() for q in (50, 90, 99)]
    breakdowns = [("total", [])] + ([("period", [])] if options.granularity else [])
    if len(options.dims) > 1:
        breakdowns.append(("+".join(options.dims), list(options.dims)))
    breakdowns += [(d, [d]) for d in options.dims]
    checked = 0
    for name, dims in breakdowns:
        part = got.filter(pl.col("breakdown") == name)
        periods = ["period"] if options.granularity and name != "total" else []
        labelled = rows.with_columns(*(label(d).alias(d) for d in dims))
        if dims and options.top:
            kept = part.filter(~pl.col("is_other")).select(dims).unique().with_columns(pl.lit(False).alias("is_other"))
            labelled = labelled.join(kept, on=dims, how="left", nulls_equal=True).with_columns(pl.col("is_other").fill_null(True))
            labelled = labelled.with_columns(
                *(pl.when(pl.col("is_other")).then(pl.lit("(other)")).otherwise(pl.col(d)).alias(d) for d in dims)
            )
        else:
            labelled = labelled.with_columns(pl.lit(False).alias("is_other"))
        keys = periods + dims + ["is_other"] if dims or periods else []
        expected = _expected_percentiles(labelled, keys)
        actual = part.select(keys + columns)
        if keys:
            joined = actual.join(expected, on=keys, how="full", suffix="_exp", nulls_equal=True)
        else:
            joined = actual.with_columns(*(expected[c].alias(f"{c}_exp") for c in columns))
        assert joined.height == actual.height == expected.height, name
        for column in columns:
            for a, b in zip(joined[column].to_list(), joined[f"{column}_exp"].to_list(), strict=True):
                _close(a, b, f"{name}.{column}")
                checked += 1
    assert checked >= 9 * len(breakdowns)


def test_arrow_table_has_duckdbs_types_and_values(report_sample_lake):
    """Report.arrow, built from the rows, is the Arrow table DuckDB itself gives for the query,
    but for the dimensions: their declared types and values instead of the labels, null for a
    null value and on the (other) rows."""
    import pyarrow as pa

    from pipeline.lake import views
    from pipeline.query.report import PERCENTILE_COLUMNS, check_options, output_columns, report_params
    from pipeline.schema import sqlfiles

    options = check_options(ReportOptions(dims=("model", "data_region", "app_id"), granularity="month", top=3))
    result = run_report(report_sample_lake, options)
    con = views.connect(report_sample_lake)
    try:
        sql = sqlfiles.load("report")
        direct = con.sql(sql, params=sqlfiles.check_parameters(sql, report_params(options))).to_arrow_table()
    finally:
        con.close()
    direct = direct.drop_columns(["dim4"])
    direct = direct.rename_columns(output_columns(direct.column_names, options.dims))
    dims = {"model": pa.string(), "data_region": pa.string(), "app_id": pa.int64()}
    assert result.arrow.schema == pa.schema([pa.field(f.name, dims.get(f.name, f.type)) for f in direct.schema])
    assert result.arrow.num_rows == direct.num_rows > 0
    is_other = direct.column("is_other").to_pylist()
    nulls = 0
    percentiles = {name for names in PERCENTILE_COLUMNS.values() for name in names}
    for name in direct.column_names:
        expected = direct.column(name).to_pylist()
        if name in percentiles:
            # sql/report.sql leaves them null: sql/report_percentiles.sql fills the rows
            assert set(expected) == {None}, name
            expected = [row[name] for row in result.rows]
            assert any(v is not None for v in expected), name
        if name in dims:
            expected = [
                None if other or v in (None, "(null)") else (int(v) if name == "app_id" else v)
                for v, other in zip(expected, is_other, strict=True)
            ]
            nulls += sum(v == "(null)" for v in direct.column(name).to_pylist())
        for a, b in zip(result.arrow.column(name).to_pylist(), expected, strict=True):
            if isinstance(a, float):
                _close(a, b, name)
            else:
                assert a == b, name
    assert nulls > 0 and any(is_other)


# --- periods and time zones -------------------------------------------------------------------


@pytest.fixture(scope="module")
def dst_lake(tmp_path_factory) -> Path:
    """Generations on both sides of New York's 2026 DST changes and Berlin's month end."""
    times = [
        "2026-03-08T04:59:00Z",  # 23:59 EST, Mar 7
        "2026-03-08T05:00:00Z",  # 00:00 EST, Mar 8 (a 23-hour day: clocks skip 02:00-03:00)
        "2026-03-09T03:59:00Z",  # 23:59 EDT, Mar 8
        "2026-03-09T04:00:00Z",  # 00:00 EDT, Mar 9
        "2026-11-01T04:00:00Z",  # 00:00 EDT, Nov 1 (a 25-hour day)
        "2026-11-02T04:59:00Z",  # 23:59 EST, Nov 1
        "2026-11-02T05:00:00Z",  # 00:00 EST, Nov 2
        "2026-10-31T23:30:00Z",  # Nov 1 00:30 in Berlin (CET), Oct 31 in UTC and New York
    ]
    path = tmp_path_factory.mktemp("dst") / "in.jsonl"
    write_jsonl(path, [record(i, created_at=t, total_cost=float(i + 1), usage=float(i + 1)) for i, t in enumerate(times)])
    lake = path.parent / "lake"
    ingest([path], lake)
    return lake


def _periods(lake: Path, **options) -> dict[str, int]:
    result = run_report(lake, ReportOptions(dims=("model",), **options))
    return {row["period"].isoformat(): row["requests"] for row in result.rows if row["breakdown"] == "period"}


def test_days_across_dst_in_new_york(dst_lake):
    days = _periods(dst_lake, granularity="day", tz="America/New_York")
    assert days == {"2026-03-07": 1, "2026-03-08": 2, "2026-03-09": 1, "2026-10-31": 1, "2026-11-01": 2, "2026-11-02": 1}
    utc = _periods(dst_lake, granularity="day")
    assert utc == {"2026-03-08": 2, "2026-03-09": 2, "2026-10-31": 1, "2026-11-01": 1, "2026-11-02": 2}


def test_since_until_select_local_days_of_23_and_25_hours(dst_lake):
    spring = run_report(dst_lake, ReportOptions(dims=("model",), tz="America/New_York", since="2026-03-08", until="2026-03-09"))
    assert spring.total["requests"] == 2
    assert spring.total["total_cost"] == pytest.approx(2.0 + 3.0)
    autumn = run_report(dst_lake, ReportOptions(dims=("model",), tz="America/New_York", since="2026-11-01", until="2026-11-02"))
    assert autumn.total["requests"] == 2  # 04:00Z .. 04:59Z next day: 25 hours
    assert autumn.total["total_cost"] == pytest.approx(5.0 + 6.0)
    # --since is inclusive, --until exclusive, both at local midnight
    edge = run_report(
        dst_lake, ReportOptions(dims=("model",), tz="America/New_York", since="2026-03-08 00:00", until="2026-03-09 00:00")
    )
    assert edge.total["requests"] == 2


def test_months_and_weeks_in_a_zone(dst_lake):
    assert _periods(dst_lake, granularity="month", tz="Europe/Berlin") == {"2026-03-01": 4, "2026-11-01": 4}
    assert _periods(dst_lake, granularity="month", tz="UTC") == {"2026-03-01": 4, "2026-10-01": 1, "2026-11-01": 3}
    weeks = _periods(dst_lake, granularity="week", tz="America/New_York")
    assert all(date.fromisoformat(w).weekday() == 0 for w in weeks)  # ISO weeks start on Monday
    assert weeks == {"2026-03-02": 3, "2026-03-09": 1, "2026-10-26": 3, "2026-11-02": 1}


# --- empty selections, formats, errors ------------------------------------------------------


def test_empty_lake_prints_a_message(tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    out = run("report", "--lake", lake)
    assert out.returncode == 0, out.stderr
    assert "holds no generations yet" in out.stderr and "Traceback" not in out.stderr
    csv_out = run("report", "--lake", lake, "--format", "csv")
    assert csv_out.returncode == 0
    assert csv_out.stdout.splitlines()[0].startswith("breakdown,period,model,provider_name,data_region,app_id,is_other,")
    assert len(csv_out.stdout.splitlines()) == 1


def test_lake_with_every_row_quarantined(tmp_path):
    data = write_jsonl(tmp_path / "bad.jsonl", ["{not json", record(1, total_cost="x")])
    ingest([data], tmp_path / "lake")
    out = run("report", "--lake", tmp_path / "lake")
    assert out.returncode == 0, out.stderr
    assert "nothing to report" in out.stderr


def test_filter_that_matches_nothing(report_sample_lake, tmp_path):
    out = run("report", "--lake", report_sample_lake, "--where", "model=no/such-model")
    assert out.returncode == 0 and "No generation" in out.stderr and "--where" in out.stderr
    target = tmp_path / "empty.parquet"
    out = run("report", "--lake", report_sample_lake, "--since", "2030-01-01", "--format", "parquet", "--out", target)
    assert out.returncode == 0, out.stderr
    assert pq.read_table(target).num_rows == 0


def test_missing_lake_is_an_error(tmp_path):
    out = run("report", "--lake", tmp_path / "nowhere")
    assert out.returncode == 1
    assert (
        out.stderr.strip()
        == f"Error: no lake at {tmp_path / 'nowhere'}. Run `orusage ingest PATH --lake DIR` first, or pass --lake DIR."
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--by", "model,colour"], "Error: unknown dimension 'colour' in --by. Use 1 to 4 of: model,"),
        (["--by", "model,model"], "Error: --by model,model names a dimension twice. Name each dimension once."),
        (["--by", "model,provider_name,data_region,app_id,api_type"], "Error: --by names 5 dimensions."),
        (["--since", "2026-10-02", "--until", "2026-10-01"], "Error: --since 2026-10-02 is not before --until 2026-10-01."),
        (["--since", "yesterday"], "Error: --since 'yesterday' is not a date."),
        (["--since", "2026-10-01T00:00+02:00"], "Error: --since '2026-10-01T00:00+02:00' has a UTC offset."),
        (["--tz", "Mars/Olympus"], "Error: --tz 'Mars/Olympus' is not a known time zone."),
        (["--where", "colour=red"], "Error: --where cannot filter on 'colour'."),
        (["--where", "model"], "Error: --where 'model' is not FIELD=VALUE."),
    ],
)
def test_errors_are_one_line(report_sample_lake, args, message):
    out = run("report", "--lake", report_sample_lake, *args)
    assert out.returncode == 2, out.stdout  # a bad option value is a usage error
    assert out.stderr.startswith(message), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_parquet_needs_out(report_sample_lake):
    out = run("report", "--lake", report_sample_lake, "--format", "parquet")
    assert out.returncode == 2 and "--out FILE.parquet" in out.stderr


def test_run_report_rejects_bad_options_directly(report_sample_lake):
    with pytest.raises(OrusageError, match="unknown granularity"):
        run_report(report_sample_lake, ReportOptions(granularity="hour"))
    with pytest.raises(OrusageError, match="keeps no group"):
        run_report(report_sample_lake, ReportOptions(top=0))


def test_formats_share_columns_and_values(report_sample_lake, tmp_path):
    args = ["report", "--lake", report_sample_lake, "--by", "model,data_region", "--granularity", "month", "--top", "3"]
    csv_text = run(*args, "--format", "csv").stdout
    json_rows = json.loads(run(*args, "--format", "json").stdout)
    assert run(*args, "--format", "parquet", "--out", tmp_path / "r.parquet").returncode == 0
    table = pq.read_table(tmp_path / "r.parquet")
    csv_rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert list(csv_rows[0]) == list(json_rows[0]) == table.column_names
    assert len(csv_rows) == len(json_rows) == table.num_rows
    assert table.column_names[:5] == ["breakdown", "period", "model", "data_region", "is_other"]
    assert [r["breakdown"] for r in json_rows][:2] == ["total", "period"]
    first = table.slice(0, 1).to_pylist()[0]
    assert float(csv_rows[0]["total_cost"]) == pytest.approx(first["total_cost"], rel=1e-11)
    assert json_rows[0]["requests"] == first["requests"]
    md = run(*args, "--format", "md").stdout
    assert (
        "## Overview" in md and "## By model+data_region" in md and "| period | model | data_region | requests | spend $ |" in md
    )
    screen = run(*args).stdout
    assert "by model+data_region" in screen and "spend $" in screen and "behaves like time to first token" in screen


def test_report_writes_out_file(report_sample_lake, tmp_path):
    target = tmp_path / "report.csv"
    out = cli("report", "--lake", report_sample_lake, "--format", "csv", "--out", target)
    assert out.returncode == 0 and out.stdout == ""
    assert target.read_text().startswith("breakdown,period,model,")


# --- docs and help ------------------------------------------------------------------------------


def documented_columns() -> list[str]:
    text = (ROOT / "docs" / "report.md").read_text()
    section = text.split("### Output columns", 1)[1].split("###", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE)


def test_docs_list_every_output_column(report_sample_lake):
    result = run_report(report_sample_lake, ReportOptions())
    dims = list(result.options.dims)
    columns = [c if c not in dims else "<dimension>" for c in result.columns]
    deduped = [c for i, c in enumerate(columns) if c != "<dimension>" or columns.index(c) == i]
    assert documented_columns() == deduped


def test_help_documents_options_and_ends_with_examples():
    for command in ("report", "sql"):
        out = run(command, "--help")
        assert out.returncode == 0
        assert "Examples:" in out.stdout and "Exit codes:" in out.stdout
    report_help = run("report", "--help").stdout
    assert "INCLUSIVE" in report_help and "EXCLUSIVE" in report_help and "--tz" in report_help


def test_bench_percentiles_query_gives_the_report_percentiles(report_sample_lake):
    """`make bench` times sql/bench_percentiles.sql as the report's percentiles alone: it must
    compute the same numbers as the default report, for the total and every group of the four
    dimensions together."""
    import math

    import duckdb

    from pipeline.schema import sqlfiles

    report = run_report(report_sample_lake, ReportOptions())
    con = duckdb.connect(config={"file_search_path": str(report_sample_lake.resolve())})
    rows = con.sql(sqlfiles.load("bench_percentiles")).fetchall()
    names = ("latency_p{}_ms", "generation_time_p{}_ms", "throughput_p{}_tps")

    def expected(row: dict) -> list[float | None]:
        return [row[name.format(p)] for name in names for p in (50, 90, 99)]

    def got(row: tuple) -> list[float | None]:
        return [value for q in row[5:] for value in (q if q is not None else [None] * 3)]

    def same(a: list, b: list) -> bool:
        return len(a) == len(b) and all(
            (x is None and y is None) or (x is not None and y is not None and math.isclose(x, y, rel_tol=1e-12))
            for x, y in zip(a, b, strict=True)
        )

    total = [r for r in rows if r[0] == 15]
    assert len(total) == 1
    assert same(got(total[0]), expected(report.total))

    together = {r[1:5]: r for r in rows if r[0] == 0}
    groups = [r for r in report.rows if r["breakdown"] == "model+provider_name+data_region+app_id"]
    compared = 0
    for row in groups:
        key = (row["model"], row["provider_name"], row["data_region"], row["app_id"])
        if "(empty)" in key:
            continue
        key = tuple(None if k == "(null)" else k for k in key)
        mine = together[(*key[:3], None if key[3] is None else int(key[3]))]
        assert same(got(mine), expected(row)), (key, got(mine), expected(row))
        compared += 1
    assert compared >= 0.9 * len(groups) and compared > 100, (compared, len(groups))
