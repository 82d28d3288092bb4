"""`orusage run`: incremental runs, logs, the quarantine ratio, the lock between real processes,
and the documented crontab line under a bare environment."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from conftest import ROOT, lake_rows, record, write_jsonl
from pipeline.cli.main import main

HOUR_AGO = time.time() - 3600


def aged(path: Path) -> Path:
    os.utime(path, (HOUR_AGO, HOUR_AGO))
    return path


def setup_inbox(tmp_path: Path, n_files: int = 2, per_file: int = 5, reports: str = "[]") -> tuple[Path, Path]:
    inbox = tmp_path / "inbox"
    for f in range(n_files):
        aged(write_jsonl(inbox / f"export-{f}.jsonl", [record(f * 100 + i) for i in range(per_file)]))
    (inbox / "notes.txt").write_text("not an export\n")
    config = tmp_path / "orusage.toml"
    config.write_text(f'lake = "lake"\n[inbox]\npaths = ["inbox"]\n[report]\ndir = "reports"\nformats = {reports}\n')
    return inbox, config


def events(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, ["run", "--log-format", "json", *args], env=env)


def snapshot(*roots: Path) -> dict:
    """Every path under the roots (links not followed) with its inode, size and mtime, or its
    link target; `.lock` is left out (each lock holder writes its pid there)."""
    out = {}
    for root in roots:
        for dirpath, dirs, files in os.walk(root):
            for name in dirs + files:
                path = Path(dirpath) / name
                if name == ".lock":
                    continue
                st = path.lstat()
                out[str(path)] = os.readlink(path) if path.is_symlink() else (st.st_ino, st.st_size, st.st_mtime_ns)
        out[str(root)] = root.stat().st_mtime_ns
    return out


def test_run_is_incremental_and_a_run_with_nothing_new_changes_nothing(tmp_path):
    inbox, config = setup_inbox(tmp_path, reports='["csv"]')
    fresh = write_jsonl(inbox / "still-copying.jsonl", [record(900)])  # modified just now
    first = invoke("--config", str(config))
    assert first.exit_code == 0, first.stderr
    log = events(first.stderr)
    assert log[0]["event"] == "settings" and log[-1]["event"] == "run_summary"
    assert [e["event"] for e in log].count("run_summary") == 1
    assert {
        k: log[-1][k]
        for k in (
            "files", "files_skipped", "files_waiting", "rows_read", "rows_written",
            "rows_quarantined", "rows_duplicate", "exit_code",
        )
    } == {
        "files": 2, "files_skipped": 0, "files_waiting": 1, "rows_read": 10, "rows_written": 10,
        "rows_quarantined": 0, "rows_duplicate": 0, "exit_code": 0,
    }  # fmt: skip
    inbox_event = next(e for e in log if e["event"] == "inbox")
    assert (inbox_event["unsupported"], inbox_event["too_new"]) == (1, 1)
    assert (tmp_path / "lake" / "orusage.duckdb").is_file()
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [".lake-version", "report.csv"]

    before = snapshot(tmp_path / "lake", tmp_path / "reports")
    again = invoke("--config", str(config))
    assert again.exit_code == 0, again.stderr
    summary = events(again.stderr)[-1]
    assert (
        summary["files"],
        summary["files_skipped"],
        summary["published"],
        summary["views_refreshed"],
        summary["reports_written"],
    ) == (0, 2, False, False, 0)
    assert snapshot(tmp_path / "lake", tmp_path / "reports") == before

    # The file that was being copied is read once it is old enough; an ingested file that
    # changed (a line appended) is read again: its old lines are duplicates, the new one is kept.
    aged(fresh)
    with open(inbox / "export-0.jsonl", "a") as fh:
        fh.write(json.dumps(record(950)) + "\n")
    aged(inbox / "export-0.jsonl")  # older than the ingest that read it, but its size changed
    third = invoke("--config", str(config))
    summary = events(third.stderr)[-1]
    assert third.exit_code == 0, third.stderr
    assert {k: summary[k] for k in ("files", "files_skipped", "rows_read", "rows_written", "rows_duplicate")} == {
        "files": 2, "files_skipped": 1, "rows_read": 7, "rows_written": 2, "rows_duplicate": 5,
    }  # fmt: skip
    assert lake_rows(tmp_path / "lake").height == 12
    current = os.readlink(tmp_path / "lake" / "current").split("/")[-1]
    # The stamp: the version the reports show, and the first day of their period (report.days).
    assert (tmp_path / "reports" / ".lake-version").read_text().split()[:2] == [current, "since"]


def test_the_runs_page_keeps_the_reports_default_top(tmp_path):
    """report.html of `orusage run` is `orusage report --format html` (make report): the same
    --top, so each chart shows at most that many groups and (other), whatever the lake holds."""
    from pipeline.query.report import DEFAULT_TOP_ON_SCREEN

    inbox, config = setup_inbox(tmp_path, n_files=1, reports='["html"]')
    config.write_text(config.read_text() + "days = 0\n")  # all of history, as `orusage report`
    rows = [
        record(i, model=f"vendor/model-{i % 17:02d}", provider_name=f"Provider {i % 14:02d}", app_id=900 + i % 15,
               total_cost=0.001 * (1 + i % 17), usage=0.001 * (1 + i % 17))
        for i in range(170)
    ]  # fmt: skip
    aged(write_jsonl(inbox / "many-groups.jsonl", rows))
    out = invoke("--config", str(config))
    assert out.exit_code == 0, out.stderr
    page = (tmp_path / "reports" / "report.html").read_text(encoding="utf-8")
    made = tmp_path / "made.html"
    report = CliRunner().invoke(main, ["report", "--lake", str(tmp_path / "lake"), "--format", "html", "--out", str(made)])
    assert report.exit_code == 0, report.stderr
    label = re.compile(r"vendor/model-\d\d|Provider \d\d|>9\d\d<")

    def groups(html: str) -> dict[str, set[str]]:
        """The groups each chart names (its labels and legend), by chart."""
        figures = re.findall(r'<figure [^>]*id="chart-([a-z-]+)"(.*?)</figure>', html, flags=re.DOTALL)
        return {key: set(label.findall(body)) for key, body in figures}

    shown = groups(page)
    assert shown == groups(made.read_text(encoding="utf-8"))
    assert len(shown) == 8 and max(len(names) for names in shown.values()) == DEFAULT_TOP_ON_SCREEN
    for key in ("spend-over-time", "spend-by-provider", "apps", "finish-mix"):
        assert "(other)" in page.split(f'id="chart-{key}"', 1)[1].split("</figure>", 1)[0], key


def test_json_summary_and_views_refreshed_whenever_the_run_published(tmp_path):
    from pipeline.ops.runner import views_fresh

    inbox, config = setup_inbox(tmp_path)
    first = invoke("--config", str(config), "--json")
    assert first.exit_code == 0, first.stderr
    summary = json.loads(first.stdout)  # the run summary: one JSON object on stdout, logs on stderr
    logged = events(first.stderr)[-1]
    assert summary == {k: v for k, v in logged.items() if k not in ("timestamp", "level", "event")}
    assert summary["published"] is True and summary["views_refreshed"] is True
    assert views_fresh(tmp_path / "lake")  # the views file was rebuilt for the published version
    assert "views_refreshed" in [e["event"] for e in events(first.stderr)]
    again = invoke("--config", str(config), "--json")
    assert json.loads(again.stdout)["published"] is False and json.loads(again.stdout)["views_refreshed"] is False
    aged(write_jsonl(inbox / "more.jsonl", [record(700)]))
    third = json.loads(invoke("--config", str(config), "--json").stdout)
    assert (third["published"], third["views_refreshed"], third["rows_written"]) == (True, True, 1)
    bad = tmp_path / "bad.toml"
    bad.write_text("lak = 1\n")
    failed = invoke("--config", str(bad), "--json")
    assert failed.exit_code == 2 and json.loads(failed.stdout)["exit_code"] == 2


def test_settings_precedence_and_logged_settings(tmp_path):
    setup_inbox(tmp_path, n_files=1)
    config = tmp_path / "orusage.toml"
    config.write_text(
        'max_quarantine_ratio = 0.5\ntimezone = "Europe/Paris"\nlock_wait_seconds = 3\n'
        + config.read_text()
        + '[webhook]\nurl = "https://hooks.example.com/services/T0/B0/secret"\n'
    )
    out = invoke(
        "--config", str(config), "--max-quarantine-ratio", "0.2",
        env={"ORUSAGE_MAX_QUARANTINE_RATIO": "0.3", "ORUSAGE_TIMEZONE": "America/New_York"},
    )  # fmt: skip
    settings = events(out.stderr)[0]
    assert settings["event"] == "settings", out.stderr
    assert settings["max_quarantine_ratio"] == 0.2  # flag > environment > file
    assert settings["timezone"] == "America/New_York"  # environment > file
    assert settings["lock_wait_seconds"] == 3.0  # file > default
    assert settings["anomaly.weeks"] == 4  # default
    assert settings["lake"] == str(tmp_path / "lake")  # relative to the file, not the cwd
    assert settings["webhook.url"] == "https://hooks.example.com/…"  # the secret path is not logged
    assert settings["config_file"] == str(config)


def test_bad_configuration_names_the_key(tmp_path):
    config = tmp_path / "orusage.toml"
    config.write_text('[inbox]\npathz = ["inbox"]\n')
    out = invoke("--config", str(config))
    assert out.exit_code == 2
    log = events(out.stderr)
    assert log[0]["message"] == (
        f"Error: setting inbox.pathz (in {config}): unknown key. Known keys of [inbox]: paths, globs, "
        "min_age_seconds, skip_unchanged. See the key table in docs/operations.md (or `python -m pipeline.ops.config`)."
    )
    assert log[-1]["event"] == "run_summary" and log[-1]["exit_code"] == 2
    config.write_text("max_quarantine_ratio = 1.5\n")
    out = CliRunner().invoke(main, ["check", "--config", str(config)])
    assert out.exit_code == 2
    assert out.stderr.startswith(f"Error: setting max_quarantine_ratio (in {config}): must be <= 1, got 1.5.")
    config.write_text("")
    out = invoke("--config", str(config), env={"ORUSAGE_WEBHOOK_RETRIES": "many"})
    assert "setting webhook.retries (in $ORUSAGE_WEBHOOK_RETRIES): expected an integer, got 'many'" in out.stderr


def test_missing_inbox_is_an_error_with_a_fix(tmp_path):
    config = tmp_path / "orusage.toml"
    config.write_text('[inbox]\npaths = ["nowhere"]\n')
    out = invoke("--config", str(config))
    assert out.exit_code == 1
    assert next(e for e in events(out.stderr) if e["event"] == "error")["message"] == (
        f"Error: the inbox {tmp_path / 'nowhere'} does not exist. "
        "Create it, or fix inbox.paths in the configuration (or $ORUSAGE_INBOX_PATHS)."
    )


def test_a_failed_run_still_ends_with_one_summary_line(tmp_path):
    inbox, config = setup_inbox(tmp_path, n_files=1)
    aged_file = inbox / "truncated.jsonl.gz"
    aged_file.write_bytes(b"\x1f\x8b\x08\x00garbage")
    aged(aged_file)
    out = invoke("--config", str(config))
    assert out.exit_code == 1
    log = events(out.stderr)
    assert log[-1]["event"] == "run_summary" and [e["event"] for e in log].count("run_summary") == 1
    assert log[-1]["exit_code"] == 1 and "truncated.jsonl.gz: is corrupt or truncated" in log[-1]["error"]
    assert not (tmp_path / "lake" / "current").exists()  # nothing published
    # The same in a terminal's format: readable lines, the summary last.
    out = CliRunner().invoke(main, ["run", "--config", str(config), "--log-format", "console"])
    lines = out.stderr.strip().splitlines()
    assert re.search(r"\[error\s*\] error\s+message=.*is corrupt or truncated", out.stderr)
    assert re.search(r"\[info\s*\] run_summary .*exit_code=1", lines[-1])


def test_quarantine_ratio_keeps_good_rows_and_exits_1(tmp_path):
    inbox, config = setup_inbox(tmp_path, n_files=1, per_file=3)
    aged(
        write_jsonl(
            inbox / "broken.jsonl",
            [record(500), "{not json", record(501, total_cost="0.5"), record(502, total_cost="1"), record(503)],
        )
    )
    out = invoke("--config", str(config))
    assert out.exit_code == 1, out.stderr
    log = events(out.stderr)
    error = next(e for e in log if e["event"] == "error")
    run_id = log[-1]["run_id"]
    assert error["message"] == (
        f"Error: run {run_id} quarantined 3 of 8 rows (37.5%, more than max_quarantine_ratio 5.0%); the good rows were kept. "
        "Worst files: broken.jsonl 3/5. Top reasons: total_cost: expected number, got string (2); line: not valid JSON (1). "
        f"See them with `orusage quarantine --run {run_id} --lake {tmp_path / 'lake'}`; fix the export or the schema, "
        f"then `orusage quarantine replay --lake {tmp_path / 'lake'}`."
    )
    assert log[-1]["exit_code"] == 1 and log[-1]["quarantine_ratio"] == 0.375
    assert lake_rows(tmp_path / "lake").height == 5  # 3 + 2 good rows kept
    assert invoke("--config", str(config), "--max-quarantine-ratio", "0.5").exit_code == 0  # nothing new: ok


# --- real processes -----------------------------------------------------------------------------

HOLD_LOCK = """
import sys
from pathlib import Path
from pipeline.lake.store import Lake
with Lake(Path(sys.argv[1])).lock():
    print("locked", flush=True)
    sys.stdin.read()
"""


def orusage(*args, cwd: Path, env: dict | None = None) -> subprocess.Popen:
    full = {**os.environ, "ORUSAGE_LOG_FORMAT": "json", **(env or {})}
    full.pop("ORUSAGE_DEBUG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", *map(str, args)],
        cwd=cwd,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_overlapping_runs_one_lock(tmp_path):
    _inbox, config = setup_inbox(tmp_path, n_files=3, per_file=40)
    lake = tmp_path / "lake"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(lake)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        refused = orusage("run", "--config", config, cwd=tmp_path)
        _out, err = refused.communicate(timeout=60)
        assert refused.returncode == 75, err
        log = events(err)
        assert re.fullmatch(
            rf"Error: another run \(pid {holder.pid}, started \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ\) holds the lake lock\. "
            r"Retry later, or pass --wait SECONDS to wait for it\.",
            log[-2]["message"],
        )
        assert log[-1]["event"] == "run_summary" and log[-1]["exit_code"] == 75
        assert time.monotonic() - started < 20  # at once, not after a wait
        assert not (lake / "current").exists()
    finally:
        holder.kill()  # dies holding the lock: the kernel releases the flock
        holder.wait()
    assert json.loads((lake / ".lock").read_text())["pid"] == holder.pid  # the dead holder's trace

    # Two real runs at once, both willing to wait: one ingests, the other finds nothing new.
    runs = [orusage("run", "--config", config, "--wait", "60", cwd=tmp_path) for _ in range(2)]
    summaries = []
    for proc in runs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        summaries.append(events(err)[-1])
    assert sorted(s["rows_written"] for s in summaries) == [0, 120]
    assert sorted(s["files"] for s in summaries) == [0, 3]
    rows = lake_rows(lake)
    assert rows.height == 120 and rows["id"].n_unique() == 120


def test_documented_crontab_line_runs_under_a_bare_environment(tmp_path):
    """The crontab line of docs/operations.md, as cron runs it: /bin/sh, `env -i`, a minimal
    PATH, another working directory."""
    docs = (ROOT / "docs" / "operations.md").read_text()
    block = re.search(r"```crontab\n(.*?)```", docs, re.S).group(1)
    line = next(ln for ln in block.splitlines() if ln.strip() and not ln.startswith("#"))
    fields = line.split(None, 5)
    assert fields[:5] == ["17", "*", "*", "*", "*"]
    command = fields[5]
    etc = tmp_path / "etc"
    etc.mkdir()
    inbox = etc / "inbox"
    for f in range(2):
        aged(write_jsonl(inbox / f"export-{f}.jsonl", [record(f * 100 + i) for i in range(4)]))
    config = etc / "orusage.toml"
    config.write_text('lake = "lake"\n[inbox]\npaths = ["inbox"]\n[report]\ndir = "reports"\nformats = ["md"]\n')
    log_file = tmp_path / "var" / "run.log"
    log_file.parent.mkdir()
    for placeholder, real in (
        ("/opt/orusage", str(ROOT)),
        ("/etc/orusage/orusage.toml", str(config)),
        ("/var/log/orusage/run.log", str(log_file)),
    ):
        assert placeholder in command
        command = command.replace(placeholder, shlex.quote(real))
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    done = subprocess.run(
        ["env", "-i", "PATH=/usr/bin:/bin", "/bin/sh", "-c", command], cwd=elsewhere, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, log_file.read_text()
    assert done.stdout == done.stderr == ""  # everything went to the log
    log = events(log_file.read_text())
    assert log[-1]["event"] == "run_summary"
    assert [e["event"] for e in log].count("run_summary") == 1
    assert {k: log[-1][k] for k in ("files", "rows_read", "rows_written", "rows_quarantined", "rows_duplicate", "exit_code")} == {
        "files": 2, "rows_read": 8, "rows_written": 8, "rows_quarantined": 0, "rows_duplicate": 0, "exit_code": 0,
    }  # fmt: skip
    assert lake_rows(etc / "lake").height == 8  # relative to the settings file
    assert (etc / "reports" / "report.md").is_file()
    assert not any(elsewhere.iterdir())  # nothing written in the working directory


def test_the_runs_reports_open_one_connection_per_report(tmp_path, monkeypatch):
    """The scheduled run's files: the full report on one connection, the folded report and the
    page it shows on one more (the page's queries do not open their own)."""
    from pipeline.ops import runner
    from pipeline.ops.config import load_settings
    from pipeline.query import report

    _inbox, config = setup_inbox(tmp_path, reports='["csv", "table", "html"]')
    assert invoke("--config", str(config)).exit_code == 0
    opened = []
    real = report.open_lake

    def counting(lake_root, *args, **kwargs):
        opened.append(lake_root)
        return real(lake_root, *args, **kwargs)

    monkeypatch.setattr(report, "open_lake", counting)
    settings = load_settings(config)
    written = runner.write_reports(settings.lake, settings, None)
    assert sorted(Path(p).name for p in written) == ["report.csv", "report.html", "report.txt"]
    assert len(opened) == 2
