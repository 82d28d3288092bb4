-- anomaly_drivers: the anomaly metrics of each requested local day per value of the driver
-- dimensions.
--
-- Purpose   Which model, app_id or provider drove an anomalous day (pipeline/ops/checks.py
--           compares each value's part on the day with its part on the baseline days).
-- Grain     one row per (day, dimension, value); dimension 'model' | 'app_id' |
--           'provider_name'; the value is the report's label (generation_labels: '(null)',
--           '(empty)', and a literal '(null)' shown as '"(null)"'), so no two values merge.
-- Inputs    generation_labels (the generations view with its labels); errors are is_error.
-- Output    day        DATE     the local day (in $tz)
--           dimension  VARCHAR  'model' | 'app_id' | 'provider_name'
--           value      VARCHAR  the dimension's label, '(null)' for none
--           spend      DOUBLE   sum(total_cost), USD
--           requests   BIGINT   generations
--           errors     BIGINT   generations with is_error
--           slow       BIGINT   generations with latency > $slow_ms
-- Params    $tz       VARCHAR      IANA time zone of the days
--           $since    TIMESTAMPTZ  start of the earliest day (inclusive)
--           $until    TIMESTAMPTZ  end of the latest day (exclusive)
--           $days     DATE[]       the days wanted
--           $slow_ms  DOUBLE       latency above which a generation is slow, ms (the baseline
--                                  p95; null: none is)
with

source as (
    select
        cast(timezone($tz, created_at) as date) as day,
        total_cost,
        is_error,
        latency > $slow_ms as is_slow,
        model_label as model,
        app_id_label as app_id,
        provider_name_label as provider_name
    from generation_labels
    where created_at >= $since and created_at < $until
        and date >= cast(timezone('UTC', $since) as date) and date <= cast(timezone('UTC', $until) as date)
),

selected as (
    select * from source where list_contains($days, day)
),

final as (
    select day, 'model' as dimension, model as value, sum(total_cost) as spend, count(*) as requests,
        count(*) filter (where is_error) as errors, count(*) filter (where is_slow) as slow
    from selected group by day, model
    union all
    select day, 'app_id', app_id, sum(total_cost), count(*),
        count(*) filter (where is_error), count(*) filter (where is_slow)
    from selected group by day, app_id
    union all
    select day, 'provider_name', provider_name, sum(total_cost), count(*),
        count(*) filter (where is_error), count(*) filter (where is_slow)
    from selected group by day, provider_name
)

select * from final
