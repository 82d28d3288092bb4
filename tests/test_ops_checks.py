"""`orusage check`: budgets and anomalies on crafted lakes with exact expected alerts, and the
webhook against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ingest, record, write_jsonl
from pipeline.cli.main import main
from pipeline.ops.checks import robust_z, run_checks
from pipeline.ops.config import load_settings

DAY = date(2026, 10, 28)  # a Wednesday: the day judged
AS_OF = "2026-10-29T06:00:00Z"  # the next morning: "yesterday" is DAY
# Baseline Wednesdays and their spend (each: 100 requests, 60 of model A, 40 of model B).
BASELINE = {date(2026, 9, 30): 10.0, date(2026, 10, 7): 10.4, date(2026, 10, 14): 9.6, date(2026, 10, 21): 10.2}

A = {"model": "acme/model-a", "provider_name": "ProvA", "app_id": 1, "external_user": "user-a"}
B = {"model": "acme/model-b", "provider_name": "ProvB", "app_id": 2, "external_user": "user-b"}


def _day_records(day: date, start: int, per_request: dict, latency: dict, errors_a: int) -> list[dict]:
    rows = []
    for n in range(100):
        who, name = (A, "a") if n < 60 else (B, "b")
        cost = per_request[name]
        at = datetime(day.year, day.month, day.day, 8, 0, tzinfo=UTC) + timedelta(minutes=n)
        rows.append(
            record(
                start + n,
                created_at=at.isoformat().replace("+00:00", "Z"),
                total_cost=cost,
                usage=cost,
                latency=latency[name],
                generation_time=latency[name] + 100.0,
                finish_reason="error" if name == "a" and n < errors_a else "stop",
                **who,
            )
        )
    return rows


def crafted_lake(tmp_path: Path) -> Path:
    """Four calm Wednesdays, then a Wednesday where model B costs 5x, is slow, and model A errs."""
    rows, i = [], 0
    for day, spend in BASELINE.items():
        rows += _day_records(day, i, {"a": spend / 100, "b": spend / 100}, {"a": 300.0, "b": 300.0}, errors_a=1)
        i += 100
    rows += _day_records(DAY, i, {"a": 0.10, "b": 0.50}, {"a": 300.0, "b": 5000.0}, errors_a=12)
    lake = tmp_path / "lake"
    summary = ingest([write_jsonl(tmp_path / "crafted.jsonl", rows)], lake)
    assert summary["rows_written"] == 500
    return lake


CONFIG = """
timezone = "UTC"
[budgets]
daily_usd = 20
monthly_usd = 60
[budgets.model."acme/model-b"]
daily_usd = 15
[budgets.external_user."*"]
daily_usd = 10
[budgets.app_id."1"]
monthly_usd = 1000
"""


@pytest.fixture(scope="module")
def crafted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crafted")
    lake = crafted_lake(tmp)
    config = tmp / "orusage.toml"
    config.write_text(f'lake = "{lake}"\n' + CONFIG)
    return lake, config


def test_robust_z():
    assert robust_z(26.0, [10.0, 10.4, 9.6, 10.2]) == pytest.approx((10.1, 0.2, 0.6745 * 15.9 / 0.2))
    assert robust_z(5.0, [5.0, 5.0, 5.0])[2] == 0.0
    assert robust_z(6.0, [5.0, 5.0, 5.0])[2] == float("inf")


def test_budgets_and_anomalies_exact_alerts(crafted):
    _lake, config = crafted
    out = CliRunner().invoke(main, ["check", "--config", str(config), "--as-of", AS_OF, "--json"])
    assert out.exit_code == 3, out.output
    result = json.loads(out.stdout)
    assert result["day"] == "2026-10-28"
    assert sorted(a["key"] for a in result["alerts"]) == [
        "anomaly:error_rate:2026-10-28",
        "anomaly:p95_latency:2026-10-28",
        "anomaly:spend:2026-10-28",
        "budget:daily:external_user=user-b:2026-10-28",
        "budget:daily:model=acme/model-b:2026-10-28",
        "budget:daily:total:2026-10-28",
    ]

    budgets = {(b["scope"], b["period"]): b for b in result["budgets"]}
    total_day = budgets[("total", "2026-10-28")]
    assert (total_day["spend"], total_day["status"]) == (pytest.approx(26.0), "exceeded")
    assert total_day["message"] == "daily budget of total for 2026-10-28 exceeded: spent $26.00, limit $20.00"
    assert budgets[("total", "2026-10-29")]["status"] == "ok"  # today, nothing yet
    month = budgets[("total", "2026-10")]
    # Month to date: the three October baselines + the day; 28.25 of 31 days elapsed.
    assert month["spend"] == pytest.approx(10.4 + 9.6 + 10.2 + 26.0)
    assert month["projection"] == pytest.approx(56.2 * 31 / 28.25, rel=1e-6)
    assert (month["status"], month["alert"]) == ("projected", False)
    assert budgets[("external_user=user-b", "2026-10-28")]["spend"] == pytest.approx(20.0)
    assert ("external_user=user-a", "2026-10-28") not in budgets  # within its limit: folded into `*`
    assert budgets[("external_user=*", "2026-10-29")]["status"] == "ok"
    assert budgets[("app_id=1", "2026-10")]["status"] == "ok"

    anomalies = {a["metric"]: a for a in result["anomalies"]}
    assert anomalies["requests"]["status"] == "ok"
    spend = anomalies["spend"]
    assert spend["baseline_days"] == ["2026-10-21", "2026-10-14", "2026-10-07", "2026-09-30"]
    assert (spend["value"], spend["baseline_median"], spend["direction"]) == (pytest.approx(26.0), pytest.approx(10.1), "up")
    # B's expected spend is its 40 % baseline share of the median; it explains 15.96 of +15.9.
    assert spend["drivers"]["model"] == [
        {"value": "acme/model-b", "contribution": pytest.approx(15.96), "share": pytest.approx(15.96 / 15.9, abs=1e-4)}
    ]
    assert spend["drivers"]["provider_name"][0]["value"] == "ProvB"
    assert spend["drivers"]["app_id"][0]["value"] == "2"
    errors = anomalies["error_rate"]
    assert (errors["value"], errors["baseline_median"]) == (pytest.approx(0.12), pytest.approx(0.01))
    assert errors["drivers"]["model"] == [{"value": "acme/model-a", "contribution": pytest.approx(0.11), "share": 1.0}]
    latency = anomalies["p95_latency"]
    assert (latency["value"], latency["baseline_median"]) == (pytest.approx(5000.0), pytest.approx(300.0))
    # Slower than the baseline p95 beyond the expected 5 %: B 40 - 2 = 38, A 0 - 3 = -3.
    assert latency["drivers"]["provider_name"] == [
        {"value": "ProvB", "contribution": 38.0, "share": pytest.approx(38 / 35, abs=1e-4)}
    ]
    message = next(a["message"] for a in result["alerts"] if a["key"] == "anomaly:spend:2026-10-28")
    assert message.startswith("spend $26.00 on 2026-10-28 (Wed), +157% against the baseline median $10.10 of 4 previous Weds")
    assert "drivers: model acme/model-b 100%" in message


def test_human_table(crafted):
    _lake, config = crafted
    out = CliRunner().invoke(main, ["check", "--config", str(config), "--as-of", AS_OF], env={"COLUMNS": "200"})
    assert out.exit_code == 3
    assert "ALERT daily budget of total for 2026-10-28 exceeded: spent $26.00, limit $20.00" in out.stdout
    assert "anomaly spend" in out.stdout and "exceeded" in out.stdout


def test_quiet_day_is_ok_and_short_history_is_not_judged(crafted, tmp_path):
    lake, config = crafted
    settings = load_settings(config)
    # A baseline Wednesday judged against its own past: only 1-3 earlier Wednesdays exist.
    early = run_checks(lake, settings, as_of=datetime(2026, 10, 15, 6, tzinfo=UTC))
    assert early["day"] == "2026-10-14"
    assert {a["metric"]: a["status"] for a in early["anomalies"]} == {
        "spend": "insufficient_baseline",
        "requests": "insufficient_baseline",
        "error_rate": "insufficient_baseline",
        "p95_latency": "insufficient_baseline",
    }
    quiet = run_checks(lake, settings, as_of=datetime(2026, 10, 22, 6, tzinfo=UTC))
    assert [a["status"] for a in quiet["anomalies"]] == ["ok", "ok", "ok", "ok"]
    assert quiet["alerts"] == [] and quiet["exit_code"] == 0
    # A day after the lake's last data is not a drop to zero: no data yet.
    later = run_checks(lake, settings, as_of=datetime(2026, 11, 20, 6, tzinfo=UTC))
    assert {a["status"] for a in later["anomalies"]} == {"no_data"}


def test_no_data_to_check_is_not_the_same_as_passing(crafted, tmp_path):
    lake, config = crafted

    def check(*args, config=config):
        return CliRunner().invoke(main, ["check", "--config", str(config), "--no-webhook", *args], env={"COLUMNS": "200"})

    quiet = check("--as-of", "2026-10-22T06:00:00Z")
    assert quiet.exit_code == 0 and quiet.stdout.rstrip().endswith("all checks passed")
    assert json.loads(check("--as-of", "2026-10-22T06:00:00Z", "--json").stdout)["status"] == "ok"
    # Weeks after the lake's last data: budgets and anomalies had nothing to look at.
    later = check("--as-of", "2026-11-20T06:00:00Z")
    assert later.exit_code == 0, later.output
    assert "all checks passed" not in later.stdout
    assert later.stdout.rstrip().endswith(
        "no data to check: the lake has no requests from 2026-11-01 00:00 to 2026-11-20 06:00 (UTC), "
        "so nothing was judged; its data ends 2026-10-28 09:39"
    )
    result = json.loads(check("--as-of", "2026-11-20T06:00:00Z", "--json").stdout)
    assert result["status"] == "no_data" and result["exit_code"] == 0
    assert result["checked"] == {
        "since": "2026-11-01T00:00:00Z", "until": "2026-11-20T06:00:00Z", "requests": 0,
        "lake_last_created_at": "2026-10-28T09:39:00Z",
    }  # fmt: skip
    # No budget and no anomaly check: nothing to check at all.
    off = tmp_path / "off.toml"
    off.write_text(f'lake = "{lake}"\n[anomaly]\nenabled = false\n')
    nothing = check("--as-of", "2026-10-22T06:00:00Z", config=off)
    assert nothing.exit_code == 0 and "nothing to check: no budget is set and the anomaly checks are off" in nothing.stdout
    assert "all checks passed" not in nothing.stdout


def test_a_drop_in_spend_is_an_anomaly_too(tmp_path):
    rows, i = [], 0
    for day, spend in BASELINE.items():
        rows += _day_records(day, i, {"a": spend / 100, "b": spend / 100}, {"a": 300.0, "b": 300.0}, errors_a=1)
        i += 100
    rows += _day_records(DAY, i, {"a": 0.03, "b": 0.0}, {"a": 300.0, "b": 300.0}, errors_a=1)
    lake = tmp_path / "lake"
    ingest([write_jsonl(tmp_path / "drop.jsonl", rows)], lake)
    result = run_checks(lake, load_settings(None, env={}, overrides={"lake": lake}), as_of=datetime(2026, 10, 29, 6, tzinfo=UTC))
    assert [a["key"] for a in result["alerts"]] == ["anomaly:spend:2026-10-28"]
    spend = result["anomalies"][0]
    assert (spend["direction"], spend["value"]) == ("down", pytest.approx(1.8))
    # Both models fell: A from an expected 6.06 to 1.80, B from 4.04 to 0 (a change of -8.30).
    assert spend["drivers"]["model"] == [
        {"value": "acme/model-a", "contribution": pytest.approx(-4.26), "share": pytest.approx(4.26 / 8.3, abs=1e-4)},
        {"value": "acme/model-b", "contribution": pytest.approx(-4.04), "share": pytest.approx(4.04 / 8.3, abs=1e-4)},
    ]


# --- webhook -----------------------------------------------------------------------------------


class Hook:
    """A real HTTP server on 127.0.0.1 that records POSTs and answers with the given statuses."""

    def __init__(self, statuses: list[int]):
        self.statuses = list(statuses)
        self.bodies: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                hook.bodies.append(json.loads(self.rfile.read(length)))
                status = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/secret-token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _config_with_hook(tmp_path: Path, lake: Path, url: str, retries: int = 2) -> Path:
    config = tmp_path / "orusage.toml"
    config.write_text(
        f'lake = "{lake}"\n{CONFIG}\n[webhook]\nurl = "{url}"\ntimeout_seconds = 2\nretries = {retries}\nbackoff_seconds = 0.01\n'
    )
    return config


def test_webhook_posts_each_alert_once(tmp_path):
    lake = crafted_lake(tmp_path)
    with Hook([503, 200]) as hook:
        config = _config_with_hook(tmp_path, lake, hook.url)
        first = CliRunner().invoke(main, ["check", "--config", str(config), "--as-of", AS_OF, "--json"])
        assert first.exit_code == 3, first.output
        result = json.loads(first.stdout)
        assert result["webhook"] == {
            "url": f"{hook.url.rsplit('/hooks', 1)[0]}/…",
            "alerts": 6,
            "already_sent": 0,
            "ok": True,
            "attempts": 2,
            "error": None,
        }
        assert len(hook.bodies) == 2 and hook.bodies[0] == hook.bodies[1]  # one retry after the 503
        body = hook.bodies[-1]
        assert body["text"].startswith(f"orusage: 6 alert(s) for the lake {lake.resolve()}")
        assert "• daily budget of total for 2026-10-28 exceeded: spent $26.00, limit $20.00" in body["text"]
        assert len(body["alerts"]) == 6 and body["alerts"][0]["details"]["check"] == "budget"
        # The same alerts an hour later: still exit 3, nothing posted again.
        again = CliRunner().invoke(main, ["check", "--config", str(config), "--as-of", "2026-10-29T07:00:00Z", "--json"])
        assert again.exit_code == 3
        assert json.loads(again.stdout)["webhook"]["already_sent"] == 6
        assert len(hook.bodies) == 2


def test_failed_webhook_keeps_the_alert_exit_code(tmp_path):
    lake = crafted_lake(tmp_path)
    with Hook([500, 500, 500]) as hook:
        config = _config_with_hook(tmp_path, lake, hook.url, retries=2)
        out = CliRunner().invoke(main, ["check", "--config", str(config), "--as-of", AS_OF, "--json"])
    assert out.exit_code == 3
    result = json.loads(out.stdout)
    assert result["webhook"]["ok"] is False and result["webhook"]["error"] == "HTTP 500"
    assert result["webhook"]["attempts"] == 3 and len(hook.bodies) == 3
    assert '"event": "webhook_attempt_failed"' in out.stderr
    assert not (lake / ".alerts-sent.json").exists()  # to be posted again on the next run
    # Nobody listening: a connection error, same exit code.
    with Hook([]) as gone:
        url = gone.url
    config = _config_with_hook(tmp_path, lake, url, retries=0)
    out = CliRunner().invoke(main, ["check", "--config", str(config), "--as-of", AS_OF, "--json"])
    assert out.exit_code == 3
    assert json.loads(out.stdout)["webhook"]["error"].startswith("ConnectError")


def test_anomaly_drivers_keep_a_null_and_a_literal_null_apart(tmp_path):
    """The drivers of an anomalous day are named by the report's labels: a provider that is
    literally "(null)" is not merged with the requests that have no provider."""
    from pipeline.lake import views
    from pipeline.schema import sqlfiles

    lake = tmp_path / "lake"
    day = "2026-09-03"
    rows = [record(i, created_at=f"{day}T10:00:0{i}Z", provider_name=name) for i, name in enumerate([None, "(null)", ""])]
    ingest([write_jsonl(tmp_path / "in.jsonl", rows)], lake)
    con = views.connect(lake)
    try:
        params = {
            "tz": "UTC",
            "since": datetime(2026, 9, 3, tzinfo=UTC),
            "until": datetime(2026, 9, 4, tzinfo=UTC),
            "days": [date(2026, 9, 3)],
            "slow_ms": None,
        }
        found = sqlfiles.run_file(con, "anomaly_drivers", params).fetchall()
    finally:
        con.close()
    providers = sorted(value for _day, dimension, value, *_ in found if dimension == "provider_name")
    assert providers == ['"(null)"', "(empty)", "(null)"]
