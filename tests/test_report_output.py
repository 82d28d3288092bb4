"""What each format of `orusage report` shows: machine formats keep the values and their types,
the formats for people keep every label readable and distinct."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from conftest import BASE_RECORD, ingest, record, write_jsonl
from pipeline.cli.main import main
from pipeline.query.report import ReportOptions, run_report
from pipeline.render.text import render_table


def run(*args, env: dict | None = None):
    """`orusage ARGS` in-process (click's CliRunner): exit code, stdout and stderr apart."""
    result = CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


def table_rows(text: str, title: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the rich table titled `title` in a terminal report; a row whose cells
    wrap onto more lines is put back together (its first line holds the metrics)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == title)
    header: list[str] = []
    rows: list[list[list[str]]] = []
    for line in lines[start + 1 :]:
        if line.startswith("┃"):
            header = [c.strip() for c in line.strip().strip("┃").split("┃")]
        elif line.startswith("│"):
            cells = [c.strip() for c in line.strip().strip("│").split("│")]
            if not rows or any(cells[len(header) - 1 :]):
                rows.append([[c] for c in cells])
            else:
                for parts, cell in zip(rows[-1], cells, strict=True):
                    parts.append(cell)
        elif line.startswith("└"):
            break
    return header, [[" ".join(p for p in parts if p) for parts in row] for row in rows]


def render_at(lake: Path, options: ReportOptions, width: int) -> str:
    """The terminal report as a terminal `width` columns wide shows it (plain text)."""
    from rich.console import Console

    buffer = io.StringIO()
    render_table(run_report(lake, options), Console(file=buffer, width=width, color_system=None))
    return buffer.getvalue()


def md_rows(text: str, heading: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the Markdown table under `heading`, cells unescaped."""
    lines = text.splitlines()
    start = lines.index(heading)
    table = []
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line.strip()[1:-1])
            table.append([re.sub(r"\\(.)", r"\1", c.strip()) for c in cells])
    return table[0], table[2:]


# --- labels: a null, an empty string, a literal "(null)" and "(empty)" stay four groups ----------

PROVIDERS = [None, "", "(null)", "(empty)", '"Anthropic"']  # one record each, in this order


@pytest.fixture(scope="module")
def label_lake(tmp_path_factory) -> Path:
    """One record per provider_name of PROVIDERS, each with its own cost (i + 1 dollars) and one
    provider attempt to the same provider_name; app_id null on the first, 42 on the others;
    is_byok true on the last."""
    path = tmp_path_factory.mktemp("labels") / "in.jsonl"
    attempt = BASE_RECORD["provider_responses"][-1]
    rows = [
        record(
            i,
            provider_name=p,
            provider_responses=[{**attempt, "provider_name": p}],
            app_id=None if i == 0 else 42,
            is_byok=i == len(PROVIDERS) - 1,
            total_cost=i + 1.0,
            usage=i + 1.0,
        )
        for i, p in enumerate(PROVIDERS)
    ]
    write_jsonl(path, rows)
    lake = path.parent / "lake"
    ingest([path], lake)
    return lake


BY = ("--by", "provider_name,app_id,is_byok")


def _groups(rows: list[dict], dim: str) -> dict:
    """{value of `dim`: total_cost} over the rows of the breakdown by `dim` alone."""
    return {row[dim]: row["total_cost"] for row in rows if row["breakdown"] == dim}


def test_machine_formats_keep_values_types_and_nulls(label_lake, tmp_path):
    expected_providers = {p: i + 1.0 for i, p in enumerate(PROVIDERS)}
    expected_apps = {None: 1.0, 42: sum(range(2, len(PROVIDERS) + 1))}
    expected_byok = {False: sum(range(1, len(PROVIDERS))), True: float(len(PROVIDERS))}

    json_rows = json.loads(run("report", "--lake", label_lake, *BY, "--format", "json").stdout)
    csv_text = run("report", "--lake", label_lake, *BY, "--format", "csv").stdout
    csv_rows = pl.read_csv(io.StringIO(csv_text), infer_schema_length=None).to_dicts()
    assert run("report", "--lake", label_lake, *BY, "--format", "parquet", "--out", tmp_path / "r.parquet").returncode == 0
    table = pq.read_table(tmp_path / "r.parquet")
    assert str(table.schema.field("app_id").type) == "int64"
    assert str(table.schema.field("is_byok").type) == "bool"
    assert str(table.schema.field("provider_name").type) == "string"

    for name, rows in (("json", json_rows), ("csv", csv_rows), ("parquet", table.to_pylist())):
        assert _groups(rows, "provider_name") == expected_providers, name
        assert _groups(rows, "app_id") == expected_apps, name
        assert all(type(row["app_id"]) is int for row in rows if row["app_id"] is not None), name
        assert _groups(rows, "is_byok") == expected_byok, name
        assert all(type(row["is_byok"]) is bool for row in rows if row["is_byok"] is not None), name
        # the total row has null dimensions, not labels
        total = [row for row in rows if row["breakdown"] == "total"]
        assert [(r["provider_name"], r["app_id"], r["is_byok"]) for r in total] == [(None, None, None)], name
    # an empty string is written "" and a null as an empty field
    assert '\nprovider_name,,"",' in csv_text and "\nprovider_name,,,," in csv_text


def test_other_row_has_null_dimensions_in_machine_formats(label_lake):
    rows = json.loads(
        run("report", "--lake", label_lake, "--by", "provider_name,app_id", "--top", "2", "--format", "json").stdout
    )
    other = [row for row in rows if row["is_other"]]
    assert {row["breakdown"] for row in other} == {"provider_name+app_id", "provider_name"}
    assert all(row["provider_name"] is None and row["app_id"] is None for row in other)
    assert "(other)" not in json.dumps(rows) and "(null)" not in json.dumps(
        [r for r in rows if r["breakdown"] != "provider_name"]
    )


def test_people_formats_show_distinct_labels(label_lake):
    labels = ["(null)", "(empty)", '"(null)"', '"(empty)"', '""Anthropic""']
    expected = dict(zip(labels, [f"{i + 1.0:.2f}" for i in range(len(PROVIDERS))], strict=True))
    screen = run("report", "--lake", label_lake, *BY, env={"COLUMNS": "200"}).stdout
    header, rows = table_rows(screen, "by provider_name")
    assert header[:2] == ["provider_name", "requests"]
    assert {row[0]: row[header.index("spend $")] for row in rows} == expected
    md = run("report", "--lake", label_lake, *BY, "--format", "md").stdout
    _header, rows = md_rows(md, "## By provider_name")
    assert sorted(row[0] for row in rows) == sorted(labels)

    from pipeline.render.html import tables

    page = tables(run_report(label_lake, ReportOptions(dims=("provider_name",))))
    shown = [row["cells"][0][0] for table in page if table["name"] == "provider_name" for row in table["rows"]]
    assert sorted(shown) == sorted(labels)
    # the page's chart of attempts per provider labels the attempts' provider_name the same way
    from pipeline.lake import views
    from pipeline.schema import sqlfiles

    sql = sqlfiles.load("html_provider_errors")
    params = {"tz": "UTC", "since": None, "until": None, "filters": {"key": [], "value": []}, "top": None}
    con = views.connect(label_lake)
    try:
        rows = con.execute(sql, sqlfiles.check_parameters(sql, params)).fetchall()  # provider_name, is_other, attempts, ...
    finally:
        con.close()
    assert {row[0]: row[2] for row in rows} == dict.fromkeys(labels, 1)


@pytest.mark.parametrize("value, label", [(None, "(null)"), ("", "(empty)"), ("(null)", '"(null)"'), ("(empty)", '"(empty)"')])
def test_where_selects_each_label(label_lake, value, label):
    rows = json.loads(
        run(
            "report", "--lake", label_lake, "--by", "provider_name", "--where", f"provider_name={label}", "--format", "json"
        ).stdout
    )
    groups = _groups(rows, "provider_name")
    assert groups == {value: PROVIDERS.index(value) + 1.0}


# --- Markdown: the table's numbers --------------------------------------------------------------


def test_markdown_has_the_tables_columns_and_numbers(report_sample_lake):
    md = run("report", "--lake", report_sample_lake, "--granularity", "month", "--top", "5", "--format", "md").stdout
    screen = render_at(report_sample_lake, ReportOptions(granularity="month", top=5), 300)  # room for every column
    names = [line.removeprefix("## By ") for line in md.splitlines() if line.startswith("## By ")]
    assert names == ["period", "model+provider_name+data_region+app_id", "model", "provider_name", "data_region", "app_id"]
    for name in names:
        md_header, md_body = md_rows(md, f"## By {name}")
        header, body = table_rows(screen, f"by {name}")
        assert md_header == header and len(header) >= 12, name
        assert md_body == body and len(body) > 1, name
    # no raw fractions: at most the table's precision, 2 decimals from 1 up, 3 significant
    # digits below 1 (0.00722)
    numbers = re.findall(r"(?<![\w.])-?(\d[\d,]*)\.(\d+)", md)
    assert len(numbers) > 100
    for whole, fraction in numbers:
        digits = len(fraction) if whole != "0" else len(fraction.lstrip("0"))
        assert digits <= (2 if whole != "0" else 3), f"{whole}.{fraction}"


# --- the terminal: labels whole at any width, fewer metric columns said so ----------------------


def _squeeze(text: str) -> str:
    """Text without its whitespace: a label wrapped onto two lines squeezes to the label."""
    return "".join(text.split())


def _note_under(text: str, title: str) -> str:
    """The text between the bottom of the table titled `title` and what follows it."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == title)
    bottom = next(i for i in range(start, len(lines)) if lines[i].startswith("└"))
    note = []
    for line in lines[bottom + 1 :]:
        if line.startswith(("by ", "* ")):
            break
        note.append(line.strip())
    return " ".join(note)


@pytest.mark.parametrize("width", [80, 100, 120, 200])
def test_table_keeps_every_label_whole_and_says_what_it_left_out(report_sample_lake, width):
    from rich.cells import cell_len

    from pipeline.render.text import SCREEN_METRICS

    options = ReportOptions(top=10)
    report = run_report(report_sample_lake, options)
    text = render_at(report_sample_lake, options, width)
    assert max(cell_len(line) for line in text.splitlines()) <= width
    widest_table = max(
        cell_len(line) for line in render_at(report_sample_lake, options, 1000).splitlines() if line.startswith("┃")
    )
    metric_headers = [label for _m, label, _k in SCREEN_METRICS]
    left_out_somewhere = False
    for name, rows in report.breakdowns():
        dims = name.split("+")
        header, body = table_rows(text, f"by {name}")
        assert header[: len(dims)] == dims, name
        shown = header[len(dims) :]
        assert len(shown) >= 1 and shown == metric_headers[: len(shown)], name
        # every label of every row, whole (wrapped onto a second line at most)
        assert [[_squeeze(cell) for cell in row[: len(dims)]] for row in body] == [
            [_squeeze(row[d]) for d in dims] for row in rows
        ], name
        note = _note_under(text, f"by {name}")
        if len(shown) < len(metric_headers):
            left_out_somewhere = True
            assert note.startswith("left out for width: " + ", ".join(metric_headers[len(shown) :]) + ";"), (name, note)
            assert "--format md, csv or json" in note and "COLUMNS=" in note
        else:
            assert note == "", (name, note)
    assert left_out_somewhere == (width < widest_table)


def test_labels_wrap_onto_two_lines_before_metrics_go(report_sample_lake):
    options = ReportOptions(top=10)
    text = render_at(report_sample_lake, options, 80)
    header, body = table_rows(text, "by model+provider_name+data_region+app_id")
    assert len(header[4:]) >= 2  # the four labels on one line would leave room for no metric
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "by model+provider_name+data_region+app_id")
    bottom = next(i for i in range(start, len(lines)) if lines[i].startswith("└"))
    body_lines = [line for line in lines[start:bottom] if line.startswith("│")]
    assert len(body) < len(body_lines) <= 2 * len(body)


def test_a_very_long_label_stays_whole_in_a_narrow_terminal(tmp_path):
    long_model = "vendor/" + "-".join(["a-very-long-model-name"] * 4)  # 98 characters
    path = write_jsonl(tmp_path / "in.jsonl", [record(0, model=long_model), record(1)])
    ingest([path], tmp_path / "lake")
    options = ReportOptions(dims=("model", "provider_name"))
    text = render_at(tmp_path / "lake", options, 80)
    _header, body = table_rows(text, "by model")
    assert sorted(_squeeze(row[0]) for row in body) == sorted([long_model, BASE_RECORD["model"]])
    _header, body = table_rows(text, "by model+provider_name")
    assert sorted(_squeeze(row[0]) for row in body) == sorted([long_model, BASE_RECORD["model"]])


def test_headline_block_is_readable_at_80_columns(report_sample_lake):
    from pipeline.render.text import overview_items

    options = ReportOptions(top=10)
    report = run_report(report_sample_lake, options)
    text = render_at(report_sample_lake, options, 80)
    block = text.split("\nby ", 1)[0].splitlines()[1:]
    assert all(len(line) <= 80 for line in block)
    squeezed = " ".join(" ".join(block).split())
    for key, value in overview_items(report):
        assert any(line.startswith(key + "  ") for line in block), key  # each key whole, on its own line
        assert f"{key} {' '.join(value.split())}" in squeezed, key
    assert "…" not in text


def test_cli_takes_the_width_from_columns(report_sample_lake):
    narrow = run("report", "--lake", report_sample_lake, env={"COLUMNS": "100"}).stdout
    assert max(len(line) for line in narrow.splitlines()) == 100 and "left out for width:" in narrow
    piped = run("report", "--lake", report_sample_lake, env={"COLUMNS": None}).stdout
    assert max(len(line) for line in piped.splitlines()) > 120 and "left out for width:" not in piped
