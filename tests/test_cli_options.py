"""Options every command shares: how the lake and the time zone are found, bad option values as
usage errors, help texts, and the commands orusage suggests."""

from __future__ import annotations

import errno
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from conftest import lake_rows, record, write_jsonl
from pipeline.cli.main import main

# Variables of the settings that would leak in from the environment of whoever runs the tests;
# the exports here hold one bad line in three, so the quarantine-ratio check is off.
CLEAN = {"ORUSAGE_LAKE": None, "ORUSAGE_CONFIG": None, "ORUSAGE_TIMEZONE": None, "ORUSAGE_MAX_QUARANTINE_RATIO": "1"}


def invoke(*args, env: dict | None = None, input: str | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], env={**CLEAN, **(env or {})}, input=input)


def export(path: Path, n: int, start: int = 0) -> Path:
    """n valid records and one line that is not JSON (quarantined)."""
    return write_jsonl(path, [record(start + i) for i in range(n)] + ["{not json: this line was cut off"])


def counts(lake_args: list, env: dict | None = None) -> dict:
    """What report, sql and quarantine each see of the lake the arguments (and env) select."""
    report = invoke("report", *lake_args, "--by", "model", "--format", "json", env=env)
    assert report.exit_code == 0, report.output
    total = next(r for r in json.loads(report.stdout) if r["breakdown"] == "total")
    sql = invoke("sql", "select count(*) as n from generations", *lake_args, "--format", "csv", env=env)
    assert sql.exit_code == 0, sql.output
    listed = invoke("quarantine", *lake_args, "--json", env=env)
    assert listed.exit_code == 0, listed.output
    return {"report": total["requests"], "sql": int(sql.stdout.splitlines()[1]), "quarantine": len(listed.stdout.splitlines())}


# --- item: every command finds the lake and the time zone the same way ----------------------------


def test_every_command_finds_the_lake_through_the_settings(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # a relative `lake` of the file is relative to the file, not here
    config = tmp_path / "etc" / "orusage.toml"
    config.parent.mkdir()
    config.write_text('lake = "../config-lake"\n')

    # ingest honours the file's lake (--config, then $ORUSAGE_CONFIG)
    assert invoke("ingest", export(tmp_path / "a.jsonl", 2), "--config", config).exit_code == 0
    assert lake_rows(tmp_path / "config-lake").height == 2
    assert not (elsewhere / "lake").exists()
    out = invoke("ingest", export(tmp_path / "b.jsonl", 1, start=10), env={"ORUSAGE_CONFIG": str(config)})
    assert out.exit_code == 0, out.output
    assert lake_rows(tmp_path / "config-lake").height == 3
    # two other lakes, of other sizes
    assert invoke("ingest", export(tmp_path / "c.jsonl", 4, start=20), "--lake", tmp_path / "env-lake").exit_code == 0
    assert invoke("ingest", export(tmp_path / "d.jsonl", 5, start=30), "--lake", tmp_path / "flag-lake").exit_code == 0

    config_lake = {"report": 3, "sql": 3, "quarantine": 2}
    assert counts(["--config", config]) == config_lake
    assert counts([], env={"ORUSAGE_CONFIG": str(config)}) == config_lake
    env_lake = {"ORUSAGE_LAKE": str(tmp_path / "env-lake")}
    assert counts(["--config", config], env=env_lake) == {"report": 4, "sql": 4, "quarantine": 1}  # env > file
    flag = ["--config", config, "--lake", tmp_path / "flag-lake"]
    assert counts(flag, env=env_lake) == {"report": 5, "sql": 5, "quarantine": 1}  # flag > env > file

    # quarantine show and replay take the options themselves, or from the group
    line = json.loads(invoke("quarantine", "--config", config, "--json").stdout.splitlines()[0])
    where = f"{Path(line['source_file']).name}:{line['source_line']}"
    for args in (["quarantine", "show", where, "--config", config], ["quarantine", "--config", config, "show", where]):
        shown = invoke(*args)
        assert shown.exit_code == 0 and "{not json: this line was cut off" in shown.stdout, shown.output
    assert invoke("quarantine", "replay", "--config", config, "--json").exit_code == 0

    # ./orusage.toml is the default settings file, for every command alike
    (elsewhere / "orusage.toml").write_text(f'lake = "{tmp_path / "env-lake"}"\n')
    assert counts([]) == {"report": 4, "sql": 4, "quarantine": 1}
    assert invoke("ingest", export(tmp_path / "e.jsonl", 1, start=40)).exit_code == 0
    assert lake_rows(tmp_path / "env-lake").height == 5


def test_report_time_zone_flag_beats_environment_beats_settings(tmp_path):
    lake = tmp_path / "lake"
    # 23:30 UTC on Sept 1st is Sept 2nd in Tokyo and still Sept 1st in Honolulu.
    data = write_jsonl(tmp_path / "in.jsonl", [record(1, created_at="2026-09-01T23:30:00Z")])
    assert invoke("ingest", data, "--lake", lake).exit_code == 0
    config = tmp_path / "orusage.toml"
    config.write_text(f'lake = "{lake}"\ntimezone = "Asia/Tokyo"\n')

    def day(*args, env=None) -> str:
        out = invoke("report", "--by", "model", "--granularity", "day", "--format", "json", *args, env=env)
        assert out.exit_code == 0, out.output
        return next(r["period"] for r in json.loads(out.stdout) if r["breakdown"] == "period")

    assert day("--lake", lake) == "2026-09-01"  # default UTC
    assert day("--config", config) == "2026-09-02"  # the file's timezone
    assert day("--config", config, env={"ORUSAGE_TIMEZONE": "Pacific/Honolulu"}) == "2026-09-01"  # env > file
    assert day("--config", config, "--tz", "Asia/Tokyo", env={"ORUSAGE_TIMEZONE": "Pacific/Honolulu"}) == "2026-09-02"


# --- item: a bad option value is a usage error (2), with one line naming the option ---------------

ACTIVITY = ["--activity", "activity.json"]
COLLECT = ["collect", "ids.txt", "--out", "o.jsonl"]
BAD_VALUES = [
    (["ingest", "x.jsonl", "--max-quarantine-ratio", "1.5"], "--max-quarantine-ratio"),
    (["ingest", "x.jsonl", "--schema-contract", "loose"], "--schema-contract"),
    (["ingest", "x.jsonl", "--wait", "-1"], "--wait"),
    (["ingest", "x.jsonl", "--config", "missing.toml"], "--config"),
    (["ingest", "x.jsonl", "--lake", "a-file.txt"], "--lake"),
    (["quarantine", "--limit", "0"], "--limit"),
    (["quarantine", "--limit", "ten"], "--limit"),
    (["quarantine", "show"], "WHERE"),
    (["quarantine", "replay", "--schema-contract", "loose"], "--schema-contract"),
    (["quarantine", "replay", "--wait", "soon"], "--wait"),
    (["report", "--by", "nosuchfield"], "--by"),
    (["report", "--by", "model,model"], "--by"),
    (["report", "--tz", "Mars/Phobos"], "--tz"),
    (["report", "--since", "2026-13-45"], "--since"),
    (["report", "--until", "2026-02-30"], "--until"),
    (["report", "--since", "2026-10-02", "--until", "2026-10-01"], "--since"),
    (["report", "--since", "2026-10-01T00:00+02:00"], "--since"),
    (["report", "--top", "-1"], "--top"),
    (["report", "--where", "foo"], "--where"),
    (["report", "--where", "colour=red"], "--where"),
    (["report", "--granularity", "year"], "--granularity"),
    (["report", "--format", "pdf"], "--format"),
    (["report", "--format", "parquet"], "--out"),
    (["report", "--out", "."], "--out"),
    (["report", "--format", "csv", "--out", "lake/report.csv"], "--out"),
    (["sql", "select 1", "-p", "=1"], "-p"),
    (["sql", "select $x"], "-p"),
    (["sql", "select 1", "-p", "x=1"], "-p"),
    (["sql", "select 1", "--format", "xml"], "--format"),
    (["sql", "select 1", "--format", "csv", "--out", "lake/generations/x.csv"], "--out"),
    (["sql", "-p", "x=1"], "-p"),
    (["run", "--as-of", "never"], "--as-of"),
    (["run", "--max-quarantine-ratio", "2"], "--max-quarantine-ratio"),
    (["run", "--log-format", "xml"], "--log-format"),
    (["run", "--wait", "-1"], "--wait"),
    (["run", "--schema-contract", "loose"], "--schema-contract"),
    (["check", "--as-of", "never"], "--as-of"),
    (["check", "--day", "2026-13-01"], "--day"),
    (["check", "--config", "missing.toml"], "--config"),
    (["compact", "--partition", "nope"], "--partition"),
    (["compact", "--wait", "-5"], "--wait"),
    (["prune", "--older-than", "3y"], "--older-than"),
    (["prune"], "--older-than"),
    (["reconcile", *ACTIVITY, "--tolerance-usd", "-1"], "--tolerance-usd"),
    (["reconcile", *ACTIVITY, "--tolerance-pct", "x"], "--tolerance-pct"),
    (["reconcile", *ACTIVITY, "--format", "xml"], "--format"),
    (["reconcile"], "--activity"),
    ([*COLLECT, "--concurrency", "0"], "--concurrency"),
    ([*COLLECT, "--max-attempts", "0"], "--max-attempts"),
    ([*COLLECT, "--timeout", "0"], "--timeout"),
    ([*COLLECT, "--not-found-patience", "-1"], "--not-found-patience"),
    ([*COLLECT, "--base-url", "openrouter.ai"], "--base-url"),
    ([*COLLECT, "--log-format", "xml"], "--log-format"),
    (["collect", "ids.txt"], "--out"),
]


@pytest.mark.parametrize(("args", "option"), BAD_VALUES, ids=[" ".join(a) for a, _ in BAD_VALUES])
def test_a_bad_option_value_is_a_usage_error_naming_the_option(tmp_path, monkeypatch, args, option):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file.txt").write_text("not a directory\n")
    (tmp_path / "lake").mkdir()
    out = invoke(*args)
    assert out.exit_code == 2, (out.exit_code, out.output)
    assert out.stderr.startswith("Error: ") and out.stderr.count("\n") == 1, out.stderr
    assert option in out.stderr and "Traceback" not in out.output and "Usage:" not in out.stderr
    assert out.stdout == ""


def test_usage_errors_print_one_line_in_a_real_process(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "pipeline", "report", "--top", "-1", "--lake", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr == "Error: Invalid value for '--top': -1 is not in the range x>=0. See `orusage report --help`.\n"


# --- item: help texts ------------------------------------------------------------------------------

# Each command's own exit codes: exactly those it can produce.
EXIT_CODES = {
    ("ingest",): {0, 1, 2, 75, 130, 143},
    ("quarantine",): {0, 1, 2},
    ("quarantine", "show"): {0, 1, 2},
    ("quarantine", "replay"): {0, 1, 2, 75, 130, 143},
    ("report",): {0, 1, 2},
    ("sql",): {0, 1, 2},
    ("views",): {0, 1, 2},
    ("run",): {0, 1, 2, 3, 75, 130, 143},
    ("check",): {0, 1, 2, 3},
    ("compact",): {0, 1, 2, 75, 130, 143},
    ("prune",): {0, 1, 2, 75, 130, 143},
    ("reconcile",): {0, 1, 2, 4},
    ("collect",): {0, 1, 2, 5},
}
NO_LAKE: set[tuple[str, ...]] = set()  # every command finds a lake (collect --since skips what it holds)


def every_command(group: click.Group = main, path: tuple = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append(((*path, name), command))
        if isinstance(command, click.Group):
            found += every_command(command, (*path, name))
    return found


def test_every_command_is_known_to_these_tests():
    assert {path for path, _ in every_command()} == set(EXIT_CODES)


def first_paragraph(command: click.Command) -> str:
    return " ".join(command.help.split("\n\n")[0].split())


@pytest.mark.parametrize("path", sorted(EXIT_CODES), ids=" ".join)
def test_help_has_text_options_exit_codes_and_ends_with_an_example(path):
    out = invoke(*path, "--help", env={"COLUMNS": "80"})
    assert out.exit_code == 0, out.output
    text = out.stdout
    assert text.startswith(f"Usage: main {' '.join(path)} ")
    description = text.split("\n\n", 2)[1]
    assert len(description.split()) >= 5 and "..." not in description
    # its own exit codes, and only the ones it can produce
    block = re.search(r"\n  Exit codes:\n((?:    .*\n)+)", text)
    assert block, text
    codes = {int(c) for c in re.findall(r"^    (\d+)\s", block.group(1), re.MULTILINE)}
    assert codes == EXIT_CODES[path]
    # the help ends with its example
    last = text.rstrip("\n").rsplit("\n\n", 1)[1]
    assert re.match(r"  Examples?( \([^)]*\))?:\n", last), last
    assert re.search(r"^    (\S.*[ /])?orusage " + re.escape(" ".join(path)) + r"( |$)", last, re.MULTILINE), last
    options = text.split("\nOptions:\n", 1)[1]
    if path in NO_LAKE:
        assert "--lake" not in options
    else:
        assert "--lake DIR" in options and "--config FILE" in options, path


def test_reconcile_usage_shows_that_activity_is_required():
    out = invoke("reconcile", "--help")
    assert out.stdout.startswith("Usage: main reconcile --activity FILE [FILE]... | --fetch [OPTIONS]\n")


@pytest.mark.parametrize("group", [(), ("quarantine",)], ids=["orusage", "quarantine"])
def test_command_listings_show_each_whole_description(group):
    out = invoke(*group, "--help", env={"COLUMNS": "80"})
    assert out.exit_code == 0
    listing = out.stdout.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]
    assert "..." not in listing
    flat = " ".join(listing.split())
    parent = main if not group else main.commands[group[0]]
    for name, command in parent.commands.items():
        assert f"{name} {first_paragraph(command)}" in flat, name


# --- item: the commands orusage suggests run as they are written -----------------------------------


def suggested(stdout: str) -> list[str]:
    line = next(line for line in stdout.splitlines() if line.startswith("see the quarantined rows"))
    return shlex.split(line.split(": ", 1)[1])


@pytest.mark.parametrize("on_path", [False, True], ids=["venv-not-activated", "venv-activated"])
def test_ingest_suggests_a_quarantine_command_that_works(tmp_path, on_path):
    bin_dir = Path(sys.executable).parent  # the venv's bin/ (not resolved: it holds the orusage script)
    script = bin_dir / "orusage"
    cwd = bin_dir.parent.parent  # as after `make report`: the script is `.venv/bin/orusage` from here
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORUSAGE_")}
    env["PATH"] = (f"{bin_dir}{os.pathsep}" if on_path else "") + "/usr/bin:/bin"
    data = write_jsonl(tmp_path / "in.jsonl", [record(1), record(2, total_cost="5")])
    lake = tmp_path / "lake"
    program = "orusage" if on_path else os.path.relpath(script, cwd)
    ingest = [program, "ingest", str(data), "--lake", str(lake), "--max-quarantine-ratio", "1"]
    out = subprocess.run(ingest, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    command = suggested(out.stdout)
    assert command == [program, "quarantine", "--lake", str(lake)]
    listed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert listed.returncode == 0 and "in.jsonl:2" in listed.stdout, listed.stderr


# --- item: a read-only lake says what was attempted ------------------------------------------------


@pytest.mark.parametrize(("code", "reason"), [(errno.EROFS, "the file system is read-only"), (errno.EACCES, "permission denied")])
def test_writing_to_an_existing_read_only_lake_says_what_was_attempted(tmp_path, monkeypatch, code, reason):
    lake = tmp_path / "lake"
    assert invoke("ingest", write_jsonl(tmp_path / "a.jsonl", [record(1)]), "--lake", lake).exit_code == 0
    real_open = os.open

    def refusing(path, *args, **kwargs):
        if os.fspath(path).endswith(".lock"):
            raise OSError(code, os.strerror(code), os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing)
    out = invoke("ingest", write_jsonl(tmp_path / "b.jsonl", [record(2)]), "--lake", lake)
    assert out.exit_code == 1
    assert out.stderr.startswith(f"Error: {reason} while taking the write lock of the lake at {lake} ({lake / '.lock'}). ")
    assert "creating" not in out.stderr and out.stderr.count("\n") == 1
    fresh = invoke("ingest", write_jsonl(tmp_path / "c.jsonl", [record(3)]), "--lake", tmp_path / "new-lake")
    assert fresh.stderr.startswith(f"Error: {reason} while creating the lake at {tmp_path / 'new-lake'} ")
