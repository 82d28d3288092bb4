-- bench_baseline: the raw DuckDB query `make bench` times the report against.
--
-- Purpose   A plain query one would write by hand over the Parquet files: count, sums and
--           three latency quantiles per model x provider x region x app. `orusage report`'s
--           default run is measured as a multiple of this query's time (target: at most 3x).
-- Grain     one row per (model, provider_name, data_region, app_id).
-- Inputs    generations/*/*.parquet relative to the lake directory (no views).
-- Output    model, provider_name, data_region (VARCHAR), app_id (BIGINT), requests (count),
--           total_cost (USD), native_tokens_prompt, native_tokens_completion (tokens),
--           latency_p50_ms, latency_p90_ms, latency_p99_ms (ms)
-- Params    none.
select
    model,
    provider_name,
    data_region,
    app_id,
    count(*) as requests,
    sum(total_cost) as total_cost,
    sum(native_tokens_prompt) as native_tokens_prompt,
    sum(native_tokens_completion) as native_tokens_completion,
    quantile_cont(latency, 0.5) as latency_p50_ms,
    quantile_cont(latency, 0.9) as latency_p90_ms,
    quantile_cont(latency, 0.99) as latency_p99_ms
from read_parquet('generations/*/*.parquet', hive_partitioning = false)
group by model, provider_name, data_region, app_id
