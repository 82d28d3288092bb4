"""Golden outputs: the report's CSV on data/sample, compared with polars.testing.

The files in tests/golden/ are written only by `make golden` (ORUSAGE_UPDATE_GOLDEN=1); review
their diff before committing it. A change in data/sample or in sql/report.sql shows up here.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.query.report import ReportOptions, run_report
from pipeline.render.text import to_csv

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("ORUSAGE_UPDATE_GOLDEN") == "1"

CASES = {
    "report_default": ReportOptions(),
    "report_model_month_berlin_top5": ReportOptions(dims=("model",), granularity="month", tz="Europe/Berlin", top=5),
    "report_europe_provider_api_week": ReportOptions(
        dims=("provider_name", "api_type"),
        granularity="week",
        since="2026-09-01",
        until="2026-10-15",
        where=(("data_region", "europe"),),
    ),
}


def read(text: str) -> pl.DataFrame:
    return pl.read_csv(io.StringIO(text), infer_schema_length=None, try_parse_dates=False)


@pytest.mark.parametrize("name", sorted(CASES))
def test_report_matches_golden(report_sample_lake, name):
    text = to_csv(run_report(report_sample_lake, CASES[name]))
    path = GOLDEN / f"{name}.csv"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run `make golden` and review the new file"
    expected, got = read(path.read_text(encoding="utf-8")), read(text)
    # numbers are written with 12 significant digits; float sums may differ in the last ones
    assert_frame_equal(got, expected, check_exact=False, rel_tol=1e-9, abs_tol=1e-12)
