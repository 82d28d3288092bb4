-- anomaly_daily: spend, requests, errors and p95 latency of each requested local day.
--
-- Purpose   The daily numbers `orusage check` judges for anomalies (pipeline/ops/checks.py): the
--           day checked and its baseline days (the same weekday of previous weeks).
-- Grain     one row per local day of $days that has at least one generation.
-- Inputs    generations (sql/views/generations.sql); errors are its is_error column.
-- Output    day          DATE    the local day (in $tz)
--           spend        DOUBLE  sum(total_cost), USD
--           requests     BIGINT  generations
--           errors       BIGINT  generations with is_error
--           p95_latency  DOUBLE  95th percentile (continuous) of latency, ms; null without
--                                latencies
-- Params    $tz     VARCHAR      IANA time zone of the days
--           $since  TIMESTAMPTZ  start of the earliest day (inclusive)
--           $until  TIMESTAMPTZ  end of the latest day (exclusive)
--           $days   DATE[]       the days wanted
with

source as (
    select cast(timezone($tz, created_at) as date) as day, total_cost, is_error, latency
    from generations
    where created_at >= $since and created_at < $until
        and date >= cast(timezone('UTC', $since) as date) and date <= cast(timezone('UTC', $until) as date)
),

final as (
    select
        day,
        sum(total_cost) as spend,
        count(*) as requests,
        count(*) filter (where is_error) as errors,
        quantile_cont(latency, 0.95) as p95_latency
    from source
    where list_contains($days, day)
    group by day
)

select * from final order by day
