-- report_percentiles: the exact p50, p90 and p99 of the measures asked for (latency, generation
-- time, throughput) for every group of one breakdown of the report (sql/report.sql).
--
-- Purpose   The percentile columns of `orusage report`. A percentile cannot be added up from
--           groups, so it is taken over the rows of each group, one breakdown per statement:
--           quantile_cont keeps the values of its groups in memory (a state that cannot spill
--           to disk), so a statement holds the values of one breakdown only, 8 bytes per
--           selected row and measure asked for. pipeline/query/report.py runs it for each
--           breakdown of the report, with all three measures when the period is small, one
--           measure at a time when it is large, on the connection of the report, and fills its
--           percentile columns with it.
-- Grain     one row per (breakdown, period, dim1, dim2, dim3, dim4, is_other) of the breakdown
--           $breakdown: the same keys as the rows of sql/report.sql.
-- Inputs    labelled_generations($dims, $filters), as sql/report.sql, with its period filter.
-- Params    $dims, $granularity, $tz, $since, $until, $filters: as sql/report.sql
--           $dims         VARCHAR[]
--           $granularity  VARCHAR
--           $tz           VARCHAR
--           $since        VARCHAR
--           $until        VARCHAR
--           $filters      MAP(VARCHAR, VARCHAR[])
--           $breakdown    INTEGER    0 'total', 1 'period', 2 the dimensions together, 3 to 6
--                                    dimension 1 to 4 alone (the breakdown order of sql/report.sql)
--           $measures     VARCHAR[]  of 'latency', 'generation_time', 'throughput': the others
--                                    are null (and their columns not read)
--           $kept         VARCHAR[]  with --top: the groups sql/report.sql keeps in the
--                                    breakdown of the dimensions together, each as its labels
--                                    joined by chr(31); the others fold into '(other)'. NULL:
--                                    every group is kept
--           $kept1        VARCHAR[]  with --top: the labels of dimension 1 kept alone; NULL: all
--           $kept2        VARCHAR[]  the same for dimension 2
--           $kept3        VARCHAR[]  the same for dimension 3
--           $kept4        VARCHAR[]  the same for dimension 4
-- Output    breakdown (VARCHAR), period (DATE), dim1..dim4 (VARCHAR), is_other (BOOLEAN): the keys
--           of the rows of sql/report.sql; latency_p50_ms, latency_p90_ms, latency_p99_ms,
--           generation_time_p50_ms, generation_time_p90_ms, generation_time_p99_ms,
--           throughput_p50_tps, throughput_p90_tps, throughput_p99_tps (DOUBLE): quantile_cont
--           of the measure over the rows of the group, as the columns of sql/report.sql (null
--           when the group has no value or the measure is not asked for).
-- By hand, in a DuckDB shell opened in the lake directory on orusage.duckdb:
--   PREPARE q AS <the query below>;
--   EXECUTE q(dims := ['model'], granularity := NULL, tz := 'UTC', since := NULL, until := NULL,
--             filters := MAP {}, breakdown := 3, measures := ['latency'], kept := NULL,
--             kept1 := NULL, kept2 := NULL, kept3 := NULL, kept4 := NULL);
-- The parameters are folded as constants: only the columns of the measures and the dimensions of
-- the breakdown are read.
with

-- The generations of the period that the filters keep (the same selection as sql/report.sql),
-- with the measures asked for.
selected as not materialized (
    select
        case
            when $granularity is not null
                then cast(date_trunc($granularity, timezone($tz, created_at)) as date)
        end as period,
        d1, d2, d3, d4,
        case when list_contains($measures, 'latency') then latency end as latency,
        case when list_contains($measures, 'generation_time') then generation_time end as generation_time,
        case when list_contains($measures, 'throughput') then throughput end as throughput
    from labelled_generations($dims, $filters)
    where ($since is null or created_at >= timezone($tz, cast($since as timestamp)))
        and ($until is null or created_at < timezone($tz, cast($until as timestamp)))
        and ($since is null or date >= cast(cast($since as timestamp) - interval 1 day as date))
        and ($until is null or date <= cast(cast($until as timestamp) + interval 1 day as date))
),

-- Each row with its folding flags (as sql/report.sql's fine_keyed: folded_all in the breakdown
-- of the dimensions together, folded1..4 in the breakdown of one dimension alone). Each is
-- false outside its own breakdown, so that the others are folded away and not computed.
flagged as not materialized (
    select
        *,
        coalesce(
            $breakdown = 2 and $kept is not null and not list_contains($kept, concat_ws(chr(31), d1, d2, d3, d4)),
            false
        ) as folded_all,
        coalesce($breakdown = 3 and $kept1 is not null and not list_contains($kept1, d1), false) as folded1,
        coalesce($breakdown = 4 and $kept2 is not null and not list_contains($kept2, d2), false) as folded2,
        coalesce($breakdown = 5 and $kept3 is not null and not list_contains($kept3, d3), false) as folded3,
        coalesce($breakdown = 6 and $kept4 is not null and not list_contains($kept4, d4), false) as folded4
    from selected
),

-- Each row's key in the breakdown asked for ('(other)' where it folds).
keyed as not materialized (
    select
        case when $breakdown >= 1 then period end as period,
        case
            when $breakdown = 2 then case when folded_all then '(other)' else d1 end
            when $breakdown = 3 then case when folded1 then '(other)' else d1 end
        end as dim1,
        case
            when $breakdown = 2 then case when folded_all and d2 is not null then '(other)' else d2 end
            when $breakdown = 4 then case when folded2 then '(other)' else d2 end
        end as dim2,
        case
            when $breakdown = 2 then case when folded_all and d3 is not null then '(other)' else d3 end
            when $breakdown = 5 then case when folded3 then '(other)' else d3 end
        end as dim3,
        case
            when $breakdown = 2 then case when folded_all and d4 is not null then '(other)' else d4 end
            when $breakdown = 6 then case when folded4 then '(other)' else d4 end
        end as dim4,
        case $breakdown
            when 2 then folded_all
            when 3 then folded1
            when 4 then folded2
            when 5 then folded3
            when 6 then folded4
            else false
        end as is_other,
        latency,
        generation_time,
        throughput
    from flagged
),

final as (
    select
        period, dim1, dim2, dim3, dim4, is_other,
        quantile_cont(latency, [0.5, 0.9, 0.99]) as latency_q,
        quantile_cont(generation_time, [0.5, 0.9, 0.99]) as generation_time_q,
        quantile_cont(throughput, [0.5, 0.9, 0.99]) as throughput_q
    from keyed
    group by period, dim1, dim2, dim3, dim4, is_other
)

select
    case $breakdown
        when 0 then 'total'
        when 1 then 'period'
        when 2 then array_to_string($dims, '+')
        when 3 then $dims[1]
        when 4 then $dims[2]
        when 5 then $dims[3]
        else $dims[4]
    end as breakdown,
    period,
    dim1,
    dim2,
    dim3,
    dim4,
    is_other,
    latency_q[1] as latency_p50_ms,
    latency_q[2] as latency_p90_ms,
    latency_q[3] as latency_p99_ms,
    generation_time_q[1] as generation_time_p50_ms,
    generation_time_q[2] as generation_time_p90_ms,
    generation_time_q[3] as generation_time_p99_ms,
    throughput_q[1] as throughput_p50_tps,
    throughput_q[2] as throughput_p90_tps,
    throughput_q[3] as throughput_p99_tps
from final
