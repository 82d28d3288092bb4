-- bench_percentiles: the exact percentiles of the default report and nothing else, for `make bench`.
--
-- Purpose   The share of the default report's time that exact percentiles take by themselves:
--           p50/p90/p99 of latency, generation time and throughput for each of its six groupings
--           (everything, the four dimensions together, each dimension alone), in the fastest
--           exact form found (one GROUPING SETS pass of quantile_cont), with no other metric.
--           `make bench` prints its time as a multiple of bench_baseline's.
-- Grain     one row per group of each grouping set: (), (model, provider_name, data_region,
--           app_id), (model), (provider_name), (data_region), (app_id).
-- Inputs    generations/*/*.parquet relative to the lake directory (no views).
-- Output    grouping_id (INTEGER: grouping() of the four, 0 for the four together, 15 for the
--           total), model, provider_name, data_region (VARCHAR), app_id (BIGINT), null where not
--           part of the grouping; latency_q, generation_time_q (ms), throughput_q (tokens/s): DOUBLE[3],
--           the 0.5, 0.9 and 0.99 quantiles.
-- Params    none.
select
    grouping(model, provider_name, data_region, app_id) as grouping_id,
    model,
    provider_name,
    data_region,
    app_id,
    quantile_cont(latency, [0.5, 0.9, 0.99]) as latency_q,
    quantile_cont(generation_time, [0.5, 0.9, 0.99]) as generation_time_q,
    quantile_cont(
        case when generation_time > 0 then native_tokens_completion / (generation_time / 1000.0) end,
        [0.5, 0.9, 0.99]
    ) as throughput_q
from read_parquet('generations/*/*.parquet', hive_partitioning = false)
group by grouping sets (
    (),
    (model, provider_name, data_region, app_id),
    (model),
    (provider_name),
    (data_region),
    (app_id)
)
