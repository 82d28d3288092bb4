"""A realistic lake for `make bench`, generated straight into Parquet (no JSON, no validation).

Correlation as in real accounts: apps are Zipf-popular and each uses a few models; models are
Zipf-popular and each is served by a few providers; a provider serves from one or two regions;
costs follow the model's price, tokens and latencies are log-normal, about 8% of requests fall
back after a 429 or a 5xx. Each UTC day's records come from their own seed, so a lake of the last
7 days holds exactly the same records as the last 7 days of a lake of a year.

The rows are written by the ingest's own writer (pipeline.ingest.run.PartitionWriter: the
declared Arrow schema, zstd, dictionary columns, one file per day) inside `Lake.transaction`, so
the lake is published, and its daily rollup kept, as an ingest would.

    python -m tools.bench_lake LAKE --records 1000000 --days 365
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

MODELS = 60
APPS = 300
PROVIDERS = 24
REGIONS = ("us", "europe", None)
END = date(2026, 11, 30)  # the last day of the generated lakes
FINISH = np.array(["stop", "length", "tool_calls", "content_filter", "error"], dtype=object)
FINISH_P = np.array([0.80, 0.06, 0.11, 0.005, 0.025])


class World:
    """The fixed catalogue: models, providers, apps and who uses whom (one seed for all days)."""

    def __init__(self, seed: int = 5):
        rng = np.random.default_rng(seed)
        self.model_names = np.array([f"vendor-{m % 9}/model-{m:02d}" for m in range(MODELS)], dtype=object)
        self.model_price = rng.lognormal(-13.0, 1.2, MODELS)  # USD per token
        self.model_providers = [rng.choice(PROVIDERS, size=rng.integers(1, 5), replace=False) for _ in range(MODELS)]
        self.provider_names = np.array([f"Provider {p:02d}" for p in range(PROVIDERS)], dtype=object)
        self.provider_regions = [list(rng.choice(3, size=rng.integers(1, 3), replace=False)) for _ in range(PROVIDERS)]
        model_pop = _zipf(MODELS, 1.1)
        self.app_models = [rng.choice(MODELS, size=rng.integers(1, 6), replace=False, p=model_pop) for _ in range(APPS)]
        self.app_pop = _zipf(APPS, 1.2)


def _zipf(n: int, s: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** s
    return weights / weights.sum()


def day_table(world: World, day: date, n: int, schema: pa.Schema, run_id: str) -> pa.Table:
    """The `n` records of UTC day `day`, as a table of the lake's schema."""
    rng = np.random.default_rng([day.toordinal(), n])
    app = rng.choice(APPS, size=n, p=world.app_pop)
    # Within an app, the first of its models is the most used (Zipf over its own few).
    pick = rng.random(n)
    model = np.empty(n, dtype=np.int64)
    provider = np.empty(n, dtype=np.int64)
    region = np.empty(n, dtype=np.int64)
    for a in np.unique(app):
        rows = np.flatnonzero(app == a)
        models = world.app_models[a]
        weights = np.cumsum(_zipf(len(models), 1.5))
        model[rows] = models[np.searchsorted(weights, pick[rows] * weights[-1])]
    for m in np.unique(model):
        rows = np.flatnonzero(model == m)
        providers = world.model_providers[m]
        provider[rows] = rng.choice(providers, size=len(rows), p=_zipf(len(providers), 1.3))
    for p in np.unique(provider):
        rows = np.flatnonzero(provider == p)
        regions = world.provider_regions[p]
        region[rows] = rng.choice(regions, size=len(rows), p=_zipf(len(regions), 2.0))
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1_000_000)
    created = np.sort(start + rng.integers(0, 86_400_000_000, size=n))
    prompt = rng.lognormal(7.0, 1.2, n).astype(np.int64)
    completion = rng.lognormal(5.5, 1.0, n).astype(np.int64)
    cached = np.where(rng.random(n) < 0.3, (prompt * rng.random(n)).astype(np.int64), 0)
    cost = (prompt + 4 * completion) * world.model_price[model]
    latency = rng.lognormal(6.8, 0.9, n)
    generation_time = latency + rng.lognormal(7.5, 1.0, n)
    byok = rng.random(n) < 0.05
    finish = rng.choice(FINISH, size=n, p=FINISH_P)
    attempts = np.where(rng.random(n) < 0.08, 2, 1)
    # provider_responses: a failed attempt (429 or 5xx) before the one that served.
    total = int(attempts.sum())
    offsets = np.concatenate(([0], np.cumsum(attempts)))
    served = np.zeros(total, dtype=bool)
    served[offsets[1:] - 1] = True
    status = np.where(served, 200, np.where(rng.random(total) < 0.5, 429, 503))
    owner = np.repeat(np.arange(n), attempts)
    responses = pa.ListArray.from_arrays(
        pa.array(offsets, pa.int32()),
        pa.StructArray.from_arrays(
            [
                pa.array(np.char.add("att-", np.arange(total).astype(str)), pa.string()),
                pa.nulls(total, pa.string()),
                pa.array(world.model_names[model[owner]], pa.string()),
                pa.array(world.provider_names[provider[owner]], pa.string()),
                pa.array(status, pa.int64()),
                pa.array(latency[owner], pa.float64()),
                pa.array(byok[owner]),
                pa.nulls(total, pa.string()),
            ],
            fields=list(schema.field("provider_responses").type.value_type),
        ),
    )
    regions = np.array(REGIONS, dtype=object)[region]
    columns = {
        "id": pa.array(np.char.add(f"gen-{day.isoformat()}-", np.arange(n).astype(str)), pa.string()),
        "model": pa.array(world.model_names[model], pa.string()),
        "created_at": pa.array(created, pa.timestamp("us", tz="UTC")),
        "origin": pa.array(np.full(n, "https://app.example"), pa.string()),
        "is_byok": pa.array(byok),
        "total_cost": pa.array(cost),
        "usage": pa.array(np.where(byok, 0.0, cost)),
        "data_region": pa.array(regions, pa.string()),
        "api_type": pa.array(np.full(n, "completions"), pa.string()),
        "app_id": pa.array(app + 1000, pa.int64()),
        "provider_name": pa.array(world.provider_names[provider], pa.string()),
        "external_user": pa.array(np.char.add("user-", rng.integers(0, 5000, n).astype(str)), pa.string()),
        "finish_reason": pa.array(finish, pa.string()),
        "cancelled": pa.array(rng.random(n) < 0.02),
        "streamed": pa.array(rng.random(n) < 0.85),
        "cache_discount": pa.array(cached * world.model_price[model] * 0.75),
        "upstream_inference_cost": pa.array(np.where(byok, cost, np.nan), from_pandas=True),
        "latency": pa.array(latency),
        "generation_time": pa.array(generation_time),
        "tokens_prompt": pa.array(prompt),
        "tokens_completion": pa.array(completion),
        "native_tokens_prompt": pa.array(prompt),
        "native_tokens_completion": pa.array(completion),
        "native_tokens_reasoning": pa.array((completion * rng.random(n) * (rng.random(n) < 0.3)).astype(np.int64)),
        "native_tokens_cached": pa.array(cached),
        "provider_responses": responses,
        "_source_file": pa.array(np.full(n, f"bench-{day.isoformat()}.jsonl"), pa.string()),
        "_source_line": pa.array(np.arange(1, n + 1), pa.int64()),
        "_run_id": pa.array(np.full(n, run_id), pa.string()),
        "_ingested_at": pa.array(np.full(n, start + 86_400_000_000 * 2), pa.timestamp("us", tz="UTC")),
    }
    arrays = [columns[f.name] if f.name in columns else pa.nulls(n, f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def day_counts(records: int, days: int, seed: int = 3) -> list[int]:
    """Records per day: a weekly rhythm and slow growth, adding up to `records`."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    weights = (1.0 + 0.5 * t / max(days - 1, 1)) * np.where((t % 7) >= 5, 0.6, 1.0) * rng.uniform(0.9, 1.1, days)
    counts = np.floor(weights / weights.sum() * records).astype(np.int64)
    counts[-1] += records - counts.sum()
    return counts.tolist()


def generate(lake: Path, records: int, days: int, *, last: int | None = None, end: date = END) -> int:
    """Publish the lake at `lake`: `records` records over the `days` days ending on `end`, or only
    the last `last` of those days (the same records). Returns the number of records written."""
    from pipeline.ingest.run import PartitionWriter
    from pipeline.lake.store import Lake
    from pipeline.schema.table import lake_arrow_schema

    world = World()
    schema = lake_arrow_schema()
    counts = day_counts(records, days)
    first = end - timedelta(days=days - 1)
    keep = range(days - min(last or days, days), days)
    written = 0
    with Lake(lake).transaction("bench", doing="generating the bench lake") as tx:
        writer = PartitionWriter(tx.version, tx.run_id, schema)
        for i in keep:
            table = day_table(world, first + timedelta(days=i), counts[i], schema, tx.run_id)
            writer.add(table)
            written += table.num_rows
        writer.close()
        tx.summary.rows_written = written
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lake", type=Path)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--last", type=int, default=None, help="only the last N days of the same lake")
    args = parser.parse_args(argv)
    n = generate(args.lake, args.records, args.days, last=args.last)
    print(f"wrote {n:,} records to {args.lake}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
