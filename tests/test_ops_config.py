"""Settings: one declaration, precedence defaults < file < ORUSAGE_* < flags, errors that name the
key, and docs that cannot drift from the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ROOT
from pipeline.cli.main import main
from pipeline.errors import ConfigError
from pipeline.ops.config import KEYS, BudgetRule, get, load_settings, render_markdown


def test_defaults_without_any_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings.config_file is None
    assert settings.lake == tmp_path / "lake"
    assert settings.inbox.paths == (tmp_path / "inbox",)
    assert (settings.timezone, settings.max_quarantine_ratio, settings.anomaly.weeks) == ("UTC", 0.05, 4)
    assert settings.budgets.daily_usd is None and settings.budgets.rules == ()
    # ./orusage.toml is found when present, $ORUSAGE_CONFIG wins over it, --config over both.
    (tmp_path / "orusage.toml").write_text('timezone = "Europe/Paris"\n')
    (tmp_path / "other.toml").write_text('timezone = "Asia/Tokyo"\n')
    (tmp_path / "third.toml").write_text('timezone = "America/Chicago"\n')
    assert load_settings(env={}).timezone == "Europe/Paris"
    assert load_settings(env={"ORUSAGE_CONFIG": "other.toml"}).timezone == "Asia/Tokyo"
    assert load_settings(Path("third.toml"), env={"ORUSAGE_CONFIG": "other.toml"}).timezone == "America/Chicago"


def test_file_environment_flags(tmp_path):
    config = tmp_path / "etc" / "orusage.toml"
    config.parent.mkdir()
    config.write_text(
        """
lake = "../data/lake"
[inbox]
paths = ["in", "/abs/inbox"]
globs = ["*.jsonl.gz"]
[budgets]
monthly_usd = 100
[budgets.app_id."42"]
daily_usd = 5
[budgets.external_user."*"]
daily_usd = 1.5
monthly_usd = 20
[anomaly]
weeks = 6
"""
    )
    env = {
        "ORUSAGE_INBOX_GLOBS": "*.jsonl, *.ndjson",
        "ORUSAGE_BUDGETS_MONTHLY_USD": "",
        "ORUSAGE_ANOMALY_ENABLED": "no",
        "ORUSAGE_REPORT_FORMATS": "csv,json",
    }
    settings = load_settings(config, env=env, overrides={"anomaly.weeks": None, "lock_wait_seconds": 5.0})
    assert settings.lake == (tmp_path / "data" / "lake")  # relative to the file's directory
    assert settings.inbox.paths == (tmp_path / "etc" / "in", Path("/abs/inbox"))
    assert settings.inbox.globs == ("*.jsonl", "*.ndjson")  # environment > file
    assert settings.budgets.monthly_usd is None  # an empty variable unsets the limit
    assert settings.anomaly.enabled is False and settings.anomaly.weeks == 6
    assert settings.report.formats == ("csv", "json")
    assert settings.lock_wait_seconds == 5.0
    assert settings.budgets.rules == (
        BudgetRule("app_id", "42", 5.0, None),
        BudgetRule("external_user", "*", 1.5, 20.0),
    )


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("lak = 1\n", {}, "setting lak (in {file}): unknown key. Known top-level keys: lake, timezone, "),
        ("[anomaly]\nweek = 3\n", {}, "setting anomaly.week (in {file}): unknown key. Known keys of [anomaly]: enabled, weeks, "),
        ('timezone = "Mars/Olympus"\n', {}, "setting timezone (in {file}): unknown time zone 'Mars/Olympus'"),
        ("[anomaly]\nweeks = 2.5\n", {}, "setting anomaly.weeks (in {file}): expected an integer, got 2.5"),
        ("[anomaly]\nweeks = 0\n", {}, "setting anomaly.weeks (in {file}): must be >= 1, got 0"),
        ('[log]\nformat = "xml"\n', {}, "setting log.format (in {file}): expected one of auto, console, json, got 'xml'"),
        ('[report]\nformats = ["pdf"]\n', {}, "setting report.formats (in {file}): unknown report format 'pdf'"),
        ('[webhook]\nurl = "ftp://x"\n', {}, "setting webhook.url (in {file}): expected an http:// or https:// URL"),
        ('[budgets.app_id."abc"]\ndaily_usd = 1\n', {}, 'setting budgets.app_id."abc" (in {file}): an app_id is an integer'),
        ('[budgets.model."m"]\nweekly_usd = 1\n', {}, 'setting budgets.model."m".weekly_usd (in {file}): unknown key'),
        ("[budgets]\ndaily_usd = -1\n", {}, "setting budgets.daily_usd (in {file}): expected an amount in USD >= 0, got -1.0"),
        ("inbox = 3\n", {}, "setting inbox (in {file}): expected a table [inbox]"),
        ("lake = [\n", {}, "setting (file) (in {file}): not valid TOML"),
        (
            "",
            {"ORUSAGE_ANOMALY_ENABLED": "maybe"},
            "setting anomaly.enabled (in $ORUSAGE_ANOMALY_ENABLED): expected true or false, got 'maybe'",
        ),
        ("", {"ORUSAGE_ANOMALY_Z": "high"}, "setting anomaly.z (in $ORUSAGE_ANOMALY_Z): expected a number, got 'high'"),
    ],
)
def test_errors_name_the_key_and_where_it_came_from(tmp_path, text, env, message):
    config = tmp_path / "orusage.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env=env)
    assert caught.value.message().startswith("Error: " + message.format(file=config))
    assert caught.value.exit_code == 2


def test_missing_config_file(tmp_path):
    out = CliRunner().invoke(main, ["check", "--config", str(tmp_path / "nope.toml")])
    assert out.exit_code == 2
    assert (
        out.stderr == f"Error: setting --config: no such file {tmp_path / 'nope.toml'}. Give the path of an orusage.toml file.\n"
    )


def test_docs_key_table_is_generated_from_the_code():
    docs = (ROOT / "docs" / "operations.md").read_text()
    table = re.search(r"<!-- config-keys:start -->\n(.*?)<!-- config-keys:end -->", docs, re.S).group(1)
    assert table == render_markdown(), "docs/operations.md is stale: paste `python -m pipeline.ops.config` between the markers"


def test_report_formats_docs_name_every_format():
    from pipeline.query.report import FORMATS

    doc = next(key.doc for key in KEYS if key.name == "report.formats")
    named = re.search(r"\(([^);]*)", doc).group(1).split(", ")  # the list in the first parenthesis
    assert sorted(named) == sorted(FORMATS), doc
    example = re.search(r"^formats = .*#(.*)$", (ROOT / "orusage.example.toml").read_text(), re.MULTILINE).group(1)
    assert sorted(re.findall(r"[a-z]+", example.split(";")[0])) == sorted(FORMATS), example


def test_example_file_lists_every_key_with_its_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    example = ROOT / "orusage.example.toml"
    raw = tomllib.loads(example.read_text())
    settings = load_settings(example, env={})
    defaults = load_settings(env={})
    text = example.read_text()
    for key in KEYS:
        if key.kind == "rules":
            assert "[budgets.app_id." in text and '[budgets.external_user."*"]' in text
            continue
        section, _, name = key.name.rpartition(".")
        present = name in (raw.get(section, {}) if section else raw)
        commented = re.search(rf"^# {re.escape(name)} = ", text, re.M) is not None
        assert present or commented, f"{key.name} missing from orusage.example.toml"
        if present and key.kind not in ("path", "paths"):
            assert get(settings, key.name) == get(defaults, key.name), f"{key.name}: the example is not the default"
