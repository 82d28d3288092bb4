"""Settings of the scheduled commands (`orusage run`, `check`, `compact`, `prune`, `quarantine replay`).

One typed settings object, declared once below: every key is a dataclass field whose metadata
holds its documentation; the key table of docs/operations.md, the environment variable names and
the validation all come from it. Precedence, lowest first:

    defaults  <  the TOML file  <  environment variables ORUSAGE_*  <  command-line flags

The file is `--config FILE`, else `$ORUSAGE_CONFIG`, else `./orusage.toml` when it exists, else
none (defaults and environment only). A relative path in the file is relative to the file's own
directory (so a crontab line works from any working directory); a relative path from the
environment or a flag is relative to the working directory. An unknown key or a bad value is a
`ConfigError` that names the key and where it came from.

`python -m pipeline.ops.config` prints the key table (the one in docs/operations.md).
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pipeline.errors import DEFAULT_MAX_QUARANTINE_RATIO, ConfigError

ENV_PREFIX = "ORUSAGE_"
CONFIG_ENV = "ORUSAGE_CONFIG"
DEFAULT_CONFIG_NAME = "orusage.toml"
BUDGET_DIMENSIONS = ("app_id", "model", "external_user")
BUDGET_LIMITS = ("daily_usd", "monthly_usd")
DOCS_FIX = "See the key table in docs/operations.md (or `python -m pipeline.ops.config`)."


def setting(default: Any, doc: str, kind: str, **rules: Any):
    """A settings field: `kind` is how a value is read and checked (see `_coerce`)."""
    meta = {"doc": doc, "kind": kind, **rules}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class InboxSettings:
    paths: tuple[Path, ...] = setting(("inbox",), "Directories (or files) searched for new exports on every run.", "paths")
    globs: tuple[str, ...] = setting(
        ("**/*",),
        "Glob patterns, relative to each inbox path, of the files to consider; of those only "
        "supported inputs (.jsonl/.ndjson/.json, optionally .gz/.zst) are ingested. Hidden files "
        "are left out.",
        "strs",
    )
    min_age_seconds: float = setting(
        60.0,
        "A file modified less than this many seconds ago is left for the next run (it may still be being written).",
        "float",
        min=0,
    )
    skip_unchanged: bool = setting(
        True,
        "A file whose path and size match a file already ingested, and that was not modified since "
        "that ingest, is skipped without being read (not even hashed); false: every file is hashed "
        "on every run and skipped by sha256.",
        "bool",
    )


@dataclass(frozen=True)
class LogSettings:
    format: str = setting(
        "auto",
        "`console` (readable lines), `json` (one JSON object per line) or `auto`: console when "
        "stderr is a terminal, JSON otherwise (cron, systemd).",
        "choice",
        choices=("auto", "console", "json"),
    )
    level: str = setting("info", "Lowest level logged.", "choice", choices=("debug", "info", "warning", "error"))


@dataclass(frozen=True)
class ReportSettings:
    dir: Path = setting("reports", "Directory the report files are written to.", "path")
    formats: tuple[str, ...] = setting(
        ("md", "csv"),
        "Report files `report.<format>` written by `orusage run` after each change of the lake and "
        "on the first run of each new local day, as `orusage report --tz TIMEZONE --since <report.days> "
        "--format F` makes them (md, csv, json, parquet, table, html; "
        "table, md and html fold the groups beyond the 10 largest by spend into (other), as the "
        "report does by default); an empty list writes none.",
        "formats",
    )
    days: int = setting(
        90,
        "The period of the report files of `orusage run`: the last this many local days up to the run "
        "(today included; the page's cards compare the last 30 days with the 30 before), so that "
        "the scheduled run reads only those days however much history the lake keeps; 0: all of "
        "history. `orusage report` without --since still reports everything.",
        "int",
        min=0,
    )


@dataclass(frozen=True)
class BudgetRule:
    """A spend limit for one value of a dimension (`*`: for each value separately)."""

    dimension: str
    value: str
    daily_usd: float | None = None
    monthly_usd: float | None = None


@dataclass(frozen=True)
class BudgetSettings:
    daily_usd: float | None = setting(
        None, "Limit of the total spend (USD, Σ total_cost) of one local day; unset: no limit.", "money"
    )
    monthly_usd: float | None = setting(
        None, "Limit of the total spend (USD) of one local calendar month; unset: no limit.", "money"
    )
    alert_on_projection: bool = setting(
        False,
        "Also alert (exit 3) when the month-end projection exceeds a monthly limit; otherwise a "
        "projected overrun is shown as a warning only.",
        "bool",
    )
    rules: tuple[BudgetRule, ...] = setting(
        (),
        'Limits per value: tables `[budgets.app_id."42"]`, `[budgets.model."openai/gpt-4o"]`, '
        '`[budgets.external_user."*"]` (`*`: every value separately), each with `daily_usd` '
        "and/or `monthly_usd`. File only.",
        "rules",
    )


@dataclass(frozen=True)
class AnomalySettings:
    enabled: bool = setting(True, "Run the anomaly checks.", "bool")
    weeks: int = setting(4, "Baseline: the same weekday in each of this many previous weeks.", "int", min=1, max=52)
    min_baseline_days: int = setting(
        3,
        "Baseline days (with data in the lake) needed before a metric is judged; fewer: `insufficient baseline`, never an alert.",
        "int",
        min=1,
    )
    z: float = setting(
        3.5,
        "Robust z-score threshold: abs(0.6745 × (value − median) / MAD) over the baseline days (Iglewicz and Hoaglin's 3.5).",
        "float",
        min=0,
    )
    min_change: float = setting(
        0.5,
        "Smallest relative change from the baseline median that can alert (0.5 = ±50%), for spend, requests and p95 latency.",
        "float",
        min=0,
    )
    min_spend_usd: float = setting(1.0, "Smallest absolute spend change (USD) that can alert.", "float", min=0)
    min_error_rate_change: float = setting(
        0.05, "Smallest rise of the error rate (absolute, 0.05 = 5 points) that can alert.", "float", min=0
    )
    min_requests: int = setting(
        50,
        "Error rate and p95 latency are judged only when the day and the baseline median have at least this many requests.",
        "int",
        min=1,
    )


@dataclass(frozen=True)
class WebhookSettings:
    url: str = setting(
        "",
        "URL that alerts are POSTed to as JSON (Slack-compatible `text` plus the details); empty: "
        "no webhook. Logged without its path (it is often a secret).",
        "url",
    )
    timeout_seconds: float = setting(10.0, "Timeout of one POST.", "float", min=0.001)
    retries: int = setting(3, "Retries after a failed POST (connection error, timeout, non-2xx).", "int", min=0, max=20)
    backoff_seconds: float = setting(2.0, "Wait before the first retry; doubled before each next one.", "float", min=0)


@dataclass(frozen=True)
class CollectSettings:
    enabled: bool = setting(
        False,
        "Each `orusage run` lists the generations created since the last collected instant (minus "
        "`overlap_minutes`) through the Analytics API, fetches those the lake lacks and ingests them "
        "in the same run (docs/collect.md). Needs a management key and an API key.",
        "bool",
    )
    base_url: str = setting("https://openrouter.ai/api/v1", "The API's base URL (a proxy's, or a test server's).", "url")
    lookback_hours: float = setting(
        24.0,
        "The first collection (the lake holds no watermark yet) starts this many hours back; at most 744 (31 days).",
        "float",
        min=0.01,
        max=744,
    )
    overlap_minutes: float = setting(
        120.0,
        "Each run starts this many minutes before the last collected instant, for generations the "
        "Analytics API lists late; ids already in the lake are not fetched again.",
        "float",
        min=0,
        max=24 * 60,
    )
    management_key_env: str = setting(
        "OPENROUTER_MANAGEMENT_KEY",
        "Name of the environment variable holding the management key (Analytics API, activity).",
        "str",
    )
    api_key_env: str = setting(
        "OPENROUTER_API_KEY", "Name of the environment variable holding the API key (generation records).", "str"
    )
    key_file: Path | None = setting(
        None,
        "A file of `NAME=value` lines read for a key whose variable is not set (keep it readable by "
        "the cron user only); unset: the environment only.",
        "optpath",
    )
    concurrency: int = setting(4, "Record requests in flight.", "int", min=1, max=64)
    not_found_patience_seconds: float = setting(
        60.0, "A record that answers 404 is retried this long (records appear a few seconds late).", "float", min=0
    )
    resume_after_gap: bool = setting(
        False,
        "When the last collection ended more than 31 days ago, start 31 days back (logging the gap) "
        "instead of refusing; set it after importing the gap from the dashboard CSV.",
        "bool",
    )
    reconcile_daily: bool = setting(
        False,
        "The first run of each UTC day also compares the lake with GET /api/v1/activity over the "
        "completed days collected in full, and alerts (exit 3) on a difference.",
        "bool",
    )
    reconcile_tolerance_usd: float = setting(
        0.01, "A money difference up to this many USD per day x model x provider agrees.", "float", min=0
    )


@dataclass(frozen=True)
class Settings:
    lake: Path = setting("lake", "The lake directory (also `--lake`).", "path")
    timezone: str = setting("UTC", "IANA time zone of days and months for budgets, anomalies and reports.", "tz")
    spark_remote: str = setting(
        "",
        "The Spark Connect server (sc://HOST:PORT) that `--engine spark` runs on (also `--spark-remote`); "
        "empty: Spark in this process.",
        "str",
    )
    schema_contract: str = setting(
        "evolve",
        "evolve: keep unknown top-level keys in `_extra`; freeze: quarantine such rows.",
        "choice",
        choices=("evolve", "freeze"),
    )
    lock_wait_seconds: float = setting(
        0.0, "How long a writer waits for the lake lock before exit 75 (also `--wait`).", "float", min=0
    )
    max_quarantine_ratio: float = setting(
        DEFAULT_MAX_QUARANTINE_RATIO,
        "A run whose quarantined rows exceed this share of the rows it read exits 1 (its good "
        "rows are kept); 1 disables the check.",
        "float",
        min=0,
        max=1,
    )
    inbox: InboxSettings = field(default_factory=InboxSettings)
    log: LogSettings = field(default_factory=LogSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    budgets: BudgetSettings = field(default_factory=BudgetSettings)
    anomaly: AnomalySettings = field(default_factory=AnomalySettings)
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    collect: CollectSettings = field(default_factory=CollectSettings)
    config_file: Path | None = field(default=None, metadata={"internal": True})

    def public(self) -> dict:
        """The settings as plain data, for the run's `settings` log event (webhook URL redacted)."""
        out: dict[str, Any] = {"config_file": str(self.config_file) if self.config_file else None}
        for key in KEYS:
            value = get(self, key.name)
            if key.kind == "url" and value:
                parts = urlsplit(value)
                value = f"{parts.scheme}://{parts.netloc}/…" if parts.path not in ("", "/") else value
            elif key.kind == "rules":
                value = [dataclasses.asdict(r) for r in value]
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = [str(v) for v in value]
            out[key.name] = value
        return out


# --- the key table -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    name: str  # dotted: `inbox.paths`
    section: str | None
    attr: str
    kind: str
    default: Any
    doc: str
    rules: dict

    @property
    def env(self) -> str | None:
        if self.kind == "rules":
            return None
        return ENV_PREFIX + self.name.upper().replace(".", "_")


def _keys() -> tuple[Key, ...]:
    keys = []
    for f in dataclasses.fields(Settings):
        if f.metadata.get("internal"):
            continue
        if "kind" in f.metadata:
            keys.append(_key(None, f))
            continue
        section_cls = f.default_factory  # type: ignore[misc]
        keys.extend(_key(f.name, sub) for sub in dataclasses.fields(section_cls))
    return tuple(keys)


def _key(section: str | None, f: dataclasses.Field) -> Key:
    meta = dict(f.metadata)
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
    name = f"{section}.{f.name}" if section else f.name
    rules = {k: v for k, v in meta.items() if k not in ("doc", "kind")}
    return Key(name, section, f.name, meta["kind"], default, meta["doc"], rules)


KEYS: tuple[Key, ...] = _keys()
_BY_NAME = {k.name: k for k in KEYS}
SECTIONS = tuple(dict.fromkeys(k.section for k in KEYS if k.section))


def get(settings: Settings, name: str) -> Any:
    key = _BY_NAME[name]
    holder = getattr(settings, key.section) if key.section else settings
    return getattr(holder, key.attr)


# --- loading -------------------------------------------------------------------------------------


def find_config(path: Path | None, env: dict[str, str]) -> Path | None:
    """The config file to read: the flag, else $ORUSAGE_CONFIG, else ./orusage.toml if present."""
    if path is None and env.get(CONFIG_ENV):
        path = Path(env[CONFIG_ENV])
        if not path.is_file():
            raise ConfigError(CONFIG_ENV, f"no such file {path}", "Fix the variable or unset it.")
    if path is None:
        here = Path(DEFAULT_CONFIG_NAME)
        return here.resolve() if here.is_file() else None
    if not path.is_file():
        raise ConfigError("--config", f"no such file {path}", "Give the path of an orusage.toml file.")
    return path.resolve()


def load_settings(
    config: Path | None = None,
    *,
    env: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Defaults < file < environment < `overrides` (dotted key -> value; None = not given)."""
    env = dict(os.environ if env is None else env)
    path = find_config(config, env)
    values: dict[str, Any] = {}
    if path is not None:
        values.update(_from_file(path))
    for key in KEYS:
        if key.env and key.env in env:
            values[key.name] = _coerce(key, env[key.env], f"${key.env}", Path.cwd(), from_text=True)
    for name, value in (overrides or {}).items():
        if value is None:
            continue
        key = _BY_NAME[name]
        flag = "--" + key.attr.replace("_", "-")
        values[name] = _coerce(key, value, flag, Path.cwd(), from_text=isinstance(value, str) and key.kind != "str")
    return _build(values, path)


def _from_file(path: Path) -> dict[str, Any]:
    source = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("(file)", f"not valid TOML ({exc})", "Fix the syntax of the file.", source) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("(file)", f"cannot be read ({exc})", "Check the path and its permissions.", source) from exc
    base = path.parent
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(name, "expected a table [" + name + "]", DOCS_FIX, source)
            for sub, subvalue in value.items():
                dotted = f"{name}.{sub}"
                if name == "budgets" and sub in BUDGET_DIMENSIONS:
                    values.setdefault("budgets.rules", []).extend(_rules(sub, subvalue, source))
                    continue
                key = _BY_NAME.get(dotted)
                if key is None or key.kind == "rules":
                    raise ConfigError(dotted, "unknown key", _known(name), source)
                values[dotted] = _coerce(key, subvalue, source, base)
            continue
        key = _BY_NAME.get(name)
        if key is None or key.section is not None:
            raise ConfigError(name, "unknown key", _known(None), source)
        values[name] = _coerce(key, value, source, base)
    if "budgets.rules" in values:
        values["budgets.rules"] = tuple(values["budgets.rules"])
    return values


def _known(section: str | None) -> str:
    names = [k.attr for k in KEYS if k.section == section and k.kind != "rules"]
    if section is None:
        names += [f"[{s}]" for s in SECTIONS]
        return "Known top-level keys: " + ", ".join(names) + ". " + DOCS_FIX
    if section == "budgets":
        names += [f'{d}."VALUE"' for d in BUDGET_DIMENSIONS]
    return f"Known keys of [{section}]: " + ", ".join(names) + ". " + DOCS_FIX


def _rules(dimension: str, table: Any, source: str) -> list[BudgetRule]:
    where = f"budgets.{dimension}"
    if not isinstance(table, dict):
        raise ConfigError(where, f'expected tables like [budgets.{dimension}."VALUE"]', DOCS_FIX, source)
    rules = []
    for value, limits in table.items():
        name = f'{where}."{value}"'
        if not isinstance(limits, dict):
            raise ConfigError(name, "expected a table with daily_usd and/or monthly_usd", DOCS_FIX, source)
        if dimension == "app_id" and value != "*" and not value.lstrip("-").isdigit():
            raise ConfigError(name, "an app_id is an integer (or `*` for every app)", DOCS_FIX, source)
        unknown = set(limits) - set(BUDGET_LIMITS)
        if unknown:
            raise ConfigError(f"{name}.{sorted(unknown)[0]}", "unknown key", "Use daily_usd and/or monthly_usd.", source)
        if not limits:
            raise ConfigError(name, "no limit given", "Set daily_usd and/or monthly_usd.", source)
        money = {k: _money(f"{name}.{k}", v, source) for k, v in limits.items()}
        rules.append(BudgetRule(dimension, str(value), money.get("daily_usd"), money.get("monthly_usd")))
    return rules


def _money(name: str, value: Any, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(name, f"expected an amount in USD >= 0, got {value!r}", DOCS_FIX, source)
    return float(value)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _coerce(key: Key, value: Any, source: str, base: Path, *, from_text: bool = False) -> Any:
    """Check and convert one value; text from the environment is parsed first."""

    def bad(what: str) -> ConfigError:
        return ConfigError(key.name, what, DOCS_FIX, source)

    kind = key.kind
    if from_text and isinstance(value, str):
        text = value.strip()
        if kind in ("paths", "strs", "formats"):
            value = [v.strip() for v in text.split(",") if v.strip()]
        elif kind == "bool":
            if text.lower() not in _TRUE | _FALSE:
                raise bad(f"expected true or false, got {value!r}")
            value = text.lower() in _TRUE
        elif kind in ("float", "money"):
            if kind == "money" and text == "":
                return None
            try:
                value = float(text)
            except ValueError:
                raise bad(f"expected a number, got {value!r}") from None
        elif kind == "int":
            try:
                value = int(text)
            except ValueError:
                raise bad(f"expected an integer, got {value!r}") from None
    if kind in ("float", "money"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad(f"expected a number, got {value!r}")
        value = float(value)
        if kind == "money" and value < 0:
            raise bad(f"expected an amount in USD >= 0, got {value!r}")
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad(f"expected an integer, got {value!r}")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise bad(f"expected true or false, got {value!r}")
    elif kind in ("str", "choice", "tz", "url", "path", "optpath"):
        if not isinstance(value, (str, Path)):
            raise bad(f"expected a string, got {value!r}")
        value = str(value)
    elif kind in ("strs", "paths", "formats"):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, (str, Path)) for v in value):
            raise bad(f"expected a list of strings, got {value!r}")
        value = tuple(str(v) for v in value)
    if kind in ("float", "int"):
        if "min" in key.rules and value < key.rules["min"]:
            raise bad(f"must be >= {key.rules['min']}, got {value}")
        if "max" in key.rules and value > key.rules["max"]:
            raise bad(f"must be <= {key.rules['max']}, got {value}")
    if kind == "choice" and value not in key.rules["choices"]:
        raise bad(f"expected one of {', '.join(key.rules['choices'])}, got {value!r}")
    if kind == "formats":
        from pipeline.query.report import FORMATS

        for fmt in value:
            if fmt not in FORMATS:
                raise bad(f"unknown report format {fmt!r} (use {', '.join(FORMATS)})")
    if kind == "tz":
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise bad(f"unknown time zone {value!r} (use an IANA name such as Europe/Paris)") from None
    if kind == "url" and value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise bad("expected an http:// or https:// URL")
    if kind == "path":
        if not value:
            raise bad("expected a path, got an empty string")
        value = (base / Path(value).expanduser()).resolve()
    if kind == "optpath":
        value = (base / Path(value).expanduser()).resolve() if value else None
    if kind == "paths":
        value = tuple((base / Path(v).expanduser()).resolve() for v in value)
    return value


def _build(values: dict[str, Any], path: Path | None) -> Settings:
    """A Settings from dotted values; a default path is resolved against the working directory."""
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    for key in KEYS:
        if key.name in values:
            value = values[key.name]
        elif key.kind == "path":
            value = Path(key.default).resolve()
        elif key.kind == "paths":
            value = tuple(Path(v).resolve() for v in key.default)
        else:
            continue
        if key.section:
            sections[key.section][key.attr] = value
        else:
            top[key.attr] = value
    defaults = {f.name: f.default_factory for f in dataclasses.fields(Settings) if f.name in SECTIONS}  # type: ignore[misc]
    built = {name: defaults[name](**kwargs) for name, kwargs in sections.items()}
    return Settings(**top, **built, config_file=path)


# --- docs ----------------------------------------------------------------------------------------


def _default_text(key: Key) -> str:
    default = key.default
    if key.kind == "rules":
        return "none"
    if default is None or default == "":
        return "unset"
    if isinstance(default, bool):
        return "`true`" if default else "`false`"
    if isinstance(default, tuple):
        return "`[" + ", ".join(f'"{v}"' for v in default) + "]`"
    if isinstance(default, str):
        return f'`"{default}"`'
    return f"`{default}`"


def render_markdown() -> str:
    """The key table of docs/operations.md (a test fails when the two differ)."""
    lines = ["| key | default | environment | meaning |", "|---|---|---|---|"]
    for key in KEYS:
        env = f"`{key.env}`" if key.env else "(file only)"
        doc = key.doc
        if key.kind in ("paths", "strs", "formats"):
            doc += " From the environment: comma-separated."
        lines.append(f"| `{key.name}` | {_default_text(key)} | {env} | {doc} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    print(render_markdown(), end="")


if __name__ == "__main__":
    main()


def settings(config: Path | None, **overrides) -> Settings:
    """The settings a command runs with: defaults < the file < ORUSAGE_* < the flags given
    (None: not given)."""
    return load_settings(config, overrides=overrides)
