-- report: requests, spend, tokens, latency and reliability per group, for every breakdown the
-- report shows, in one long table (the rows of `orusage report`).
--
-- Purpose   The standard picture: an overall total, then the chosen dimensions together and each
--           alone (and per period with $granularity), every group with the same metrics, so the
--           groups of one breakdown add up to its total. With $top the groups beyond the N
--           largest by spend fold into one '(other)' group per breakdown (and period), so the
--           totals still hold.
-- Grain     one row per (breakdown, period, dim1, dim2, dim3, dim4, is_other)
--           (tests/test_report.py checks it). Breakdowns, in output order:
--             'total'                   everything selected (the overview); period is null
--             'period'                  one row per period (only with $granularity)
--             'model+provider_name...'  the dimensions together (only with 2 or more)
--             'model', ...              each dimension alone, in $dims order
--           With $granularity every breakdown but 'total' has one row per period and group.
-- Inputs    labelled_generations($dims, $filters) (a table macro over generation_labels:
--           generations with the dimension labels; pipeline/schema/dimensions.py builds both), including
--           its provider_responses. The lake is read twice: once for the request
--           columns, once for provider_responses (the widest column, read by its own pass).
-- Params    $dims         VARCHAR[]  1 to 4 dimensions (pipeline/schema/dimensions.py and docs/report.md
--                                    list them)
--           $granularity  VARCHAR    'day' | 'week' (ISO weeks, from Monday) | 'month' | NULL
--           $tz           VARCHAR    IANA zone of the periods, $since and $until, e.g. 'UTC'
--           $since        VARCHAR    local date or date-time in $tz, inclusive; NULL: no bound
--           $until        VARCHAR    local date or date-time in $tz, exclusive; NULL: no bound
--           $filters      MAP(VARCHAR, VARCHAR[])  dimension -> accepted labels: a row is kept
--                                    when, for every dimension in the map, its label is one of
--                                    the values ('(null)' matches null, '(empty)' '')
--           $top          BIGINT     keep the N largest groups by total_cost in each breakdown,
--                                    fold the rest into '(other)'; NULL keeps every group
--           $from_rollup  BOOLEAN    add the finest groups up from the daily rollup
--                                    (labelled_rollup: sql/views/daily_rollup.sql) instead of
--                                    reading the rows; the caller (pipeline/query/report.py)
--                                    asks it only when the rollup answers exactly: $tz 'UTC',
--                                    $since and $until whole UTC days, $dims and $filters on the
--                                    rollup's dimensions. The sums are the same (the rollup
--                                    keeps no values for percentiles).
-- Output    Units: USD for money, tokens for token counts, ms for times, tokens/s for
--           throughput; shares and rates are fractions 0..1. docs/report.md defines each column.
--           breakdown (VARCHAR), period (DATE: first day of the period in $tz, null without
--           $granularity and on 'total'), dim1..dim4 (VARCHAR: the label of $dims[1..4]; null
--           when the dimension is not part of the breakdown, '(null)' for a null value,
--           '(empty)' for an empty string, '(other)' on the folded row, a value that looks like
--           a label between double quotes), is_other (BOOLEAN),
--           first_created_at, last_created_at (TIMESTAMPTZ), requests, total_cost, usage,
--           upstream_inference_cost, cache_discount, tokens_prompt, tokens_completion,
--           native_tokens_prompt, native_tokens_completion, native_tokens_reasoning,
--           native_tokens_cached, billed_tokens, spend_share, cost_per_request,
--           cost_per_million_billed_tokens, cache_hit_rate, latency_p50_ms, latency_p90_ms,
--           latency_p99_ms, generation_time_p50_ms, generation_time_p90_ms,
--           generation_time_p99_ms, throughput_p50_tps, throughput_p90_tps, throughput_p99_tps,
--           cancelled_share, streamed_share, byok_share, finish_reason_stop_share,
--           finish_reason_length_share, finish_reason_tool_calls_share,
--           finish_reason_content_filter_share, finish_reason_error_share,
--           finish_reason_other_share, finish_reason_null_share, error_rate,
--           requests_with_attempts, fallback_rate, attempts, attempt_429_share,
--           attempt_5xx_share, attempt_other_failed_share, response_cache_hits,
--           response_cache_hit_share
-- By hand, in a DuckDB shell opened in the lake directory on orusage.duckdb:
--   PREPARE report AS <the query below>;
--   EXECUTE report(dims := ['model'], granularity := 'month', tz := 'UTC', since := NULL,
--                  until := NULL, filters := MAP {}, top := 10, from_rollup := false);
-- Parameters are used directly in row-level expressions (not through a settings CTE): DuckDB
-- folds them as constants, so the columns of dimensions and filters not asked for are not read.
-- How: every metric is computed once per finest group (period x all dimensions), in one pass over
-- the request columns and one over the attempts; each breakdown then adds the finest groups up.
-- Sums add up directly; a percentile cannot. The nine percentile columns (latency_p50_ms ..
-- throughput_p99_tps) are null here: sql/report_percentiles.sql takes them over the rows, one
-- breakdown and one measure per statement, and pipeline/query/report.py fills them in. Keeping
-- the values of every finest group here instead would hold all of them at once, in states
-- DuckDB cannot spill to disk (5.4 GB for a year of 10M records; docs/report.md, Memory).
-- Everything this query holds per group is a fixed-size sum or count, which DuckDB spills.
with

-- The generations of the period that the filters keep, with the labels of the chosen dimensions
-- in slots d1..d4 (the table macro labelled_generations, built with the view generation_labels
-- from the list of dimensions, pipeline/schema/dimensions.py).
selected as not materialized (
    select
        created_at,
        case
            when $granularity is not null
                then cast(date_trunc($granularity, timezone($tz, created_at)) as date)
        end as period,
        d1, d2, d3, d4,
        total_cost,
        usage,
        upstream_inference_cost,
        cache_discount,
        tokens_prompt,
        tokens_completion,
        native_tokens_prompt,
        native_tokens_completion,
        native_tokens_reasoning,
        native_tokens_cached,
        billed_tokens,
        cancelled,
        streamed,
        is_byok,
        finish_reason,
        is_response_cache_hit,
        latency,
        generation_time,
        throughput,
        provider_responses
    from labelled_generations($dims, $filters)
    where ($since is null or created_at >= timezone($tz, cast($since as timestamp)))
        and ($until is null or created_at < timezone($tz, cast($until as timestamp)))
        -- the partition column, one day wider on each side for any zone: only the period's
        -- files are opened (partition pruning)
        and ($since is null or date >= cast(cast($since as timestamp) - interval 1 day as date))
        and ($until is null or date <= cast(cast($until as timestamp) + interval 1 day as date))
        and not coalesce($from_rollup, false)
),

-- The request metrics of the selected rows (read by the one pass of fine_requests).
request_rows as not materialized (
    select
        period, d1, d2, d3, d4, created_at, total_cost, usage, upstream_inference_cost,
        cache_discount, tokens_prompt, tokens_completion, native_tokens_prompt,
        native_tokens_completion, native_tokens_reasoning, native_tokens_cached, billed_tokens,
        cancelled, streamed, is_byok, finish_reason, is_response_cache_hit,
        latency, generation_time, throughput
    from selected
),

-- The provider attempts, the widest column, read by this pass alone: one row per attempt, with
-- the number of attempts of its request.
attempt_list as (
    select
        period, d1, d2, d3, d4,
        len(provider_responses) as attempt_count,
        unnest(provider_responses) as attempt
    from selected
    where len(provider_responses) > 0
),

-- Every additive request metric at the finest grain (period x all dimensions).
fine_requests as (
    select
        period, d1, d2, d3, d4,
        count(*) as requests,
        min(created_at) as first_created_at,
        max(created_at) as last_created_at,
        sum(total_cost) as total_cost,
        sum(usage) as usage,
        sum(upstream_inference_cost) as upstream_inference_cost,
        sum(cache_discount) as cache_discount,
        sum(tokens_prompt) as tokens_prompt,
        sum(tokens_completion) as tokens_completion,
        sum(native_tokens_prompt) as native_tokens_prompt,
        sum(native_tokens_completion) as native_tokens_completion,
        sum(native_tokens_reasoning) as native_tokens_reasoning,
        sum(native_tokens_cached) as native_tokens_cached,
        sum(billed_tokens) as billed_tokens,
        count(*) filter (where cancelled) as cancelled,
        count(*) filter (where streamed) as streamed,
        count(*) filter (where is_byok) as byok,
        count(*) filter (where finish_reason = 'stop') as finish_stop,
        count(*) filter (where finish_reason = 'length') as finish_length,
        count(*) filter (where finish_reason = 'tool_calls') as finish_tool_calls,
        count(*) filter (where finish_reason = 'content_filter') as finish_content_filter,
        count(*) filter (where finish_reason = 'error') as finish_error,
        count(*) filter (
            where finish_reason not in ('stop', 'length', 'tool_calls', 'content_filter', 'error')
        ) as finish_other,
        count(*) filter (where finish_reason is null) as finish_null,
        count(*) filter (where is_response_cache_hit) as response_cache_hits
    from request_rows
    group by period, d1, d2, d3, d4
),

-- Attempts per finest group and attempt count: a request with n attempts gives n rows, so
-- attempts / n counts the requests.
fine_attempt_counts as (
    select
        period, d1, d2, d3, d4, attempt_count,
        count(*) as attempts,
        count(*) filter (where attempt.status = 429) as attempts_429,
        count(*) filter (where attempt.status between 500 and 599) as attempts_5xx,
        count(*) filter (
            where attempt.status not between 200 and 299
                and attempt.status <> 429
                and attempt.status not between 500 and 599
        ) as attempts_other_failed
    from attempt_list
    group by period, d1, d2, d3, d4, attempt_count
),

fine_attempts as (
    select
        period, d1, d2, d3, d4,
        sum(attempts // attempt_count) as requests_with_attempts,
        sum(attempts // attempt_count) filter (where attempt_count >= 2) as fallbacks,
        sum(attempts) as attempts,
        sum(attempts_429) as attempts_429,
        sum(attempts_5xx) as attempts_5xx,
        sum(attempts_other_failed) as attempts_other_failed
    from fine_attempt_counts
    group by period, d1, d2, d3, d4
),

fine_rows as (
    select
        r.*,
        coalesce(a.requests_with_attempts, 0) as requests_with_attempts,
        coalesce(a.fallbacks, 0) as fallbacks,
        coalesce(a.attempts, 0) as attempts,
        coalesce(a.attempts_429, 0) as attempts_429,
        coalesce(a.attempts_5xx, 0) as attempts_5xx,
        coalesce(a.attempts_other_failed, 0) as attempts_other_failed
    from fine_requests as r
    left join fine_attempts as a
        on r.period is not distinct from a.period
        and r.d1 is not distinct from a.d1
        and r.d2 is not distinct from a.d2
        and r.d3 is not distinct from a.d3
        and r.d4 is not distinct from a.d4
),

-- With $from_rollup: the same finest groups added up from the daily rollup's days (UTC).
fine_rollup as (
    select
        case
            when $granularity is not null then cast(date_trunc($granularity, day) as date)
        end as period,
        d1, d2, d3, d4,
        sum(requests) as requests,
        min(first_created_at) as first_created_at,
        max(last_created_at) as last_created_at,
        sum(total_cost) as total_cost,
        sum(usage) as usage,
        sum(upstream_inference_cost) as upstream_inference_cost,
        sum(cache_discount) as cache_discount,
        sum(tokens_prompt) as tokens_prompt,
        sum(tokens_completion) as tokens_completion,
        sum(native_tokens_prompt) as native_tokens_prompt,
        sum(native_tokens_completion) as native_tokens_completion,
        sum(native_tokens_reasoning) as native_tokens_reasoning,
        sum(native_tokens_cached) as native_tokens_cached,
        sum(billed_tokens) as billed_tokens,
        sum(cancelled) as cancelled,
        sum(streamed) as streamed,
        sum(byok) as byok,
        sum(finish_stop) as finish_stop,
        sum(finish_length) as finish_length,
        sum(finish_tool_calls) as finish_tool_calls,
        sum(finish_content_filter) as finish_content_filter,
        sum(finish_error) as finish_error,
        sum(finish_other) as finish_other,
        sum(finish_null) as finish_null,
        sum(response_cache_hits) as response_cache_hits,
        sum(requests_with_attempts) as requests_with_attempts,
        sum(fallbacks) as fallbacks,
        sum(attempts) as attempts,
        sum(attempts_429) as attempts_429,
        sum(attempts_5xx) as attempts_5xx,
        sum(attempts_other_failed) as attempts_other_failed
    from labelled_rollup($dims, $filters)
    where coalesce($from_rollup, false)
        and ($since is null or day >= cast(cast($since as timestamp) as date))
        and ($until is null or day < cast(cast($until as timestamp) as date))
    group by 1, d1, d2, d3, d4
),

fine as (
    select * from fine_rows
    union all
    select * from fine_rollup
),

-- The groups $top keeps in each breakdown: the largest by spend over the whole selection.
group_spend as (
    select d1, d2, d3, d4, sum(total_cost) as spend
    from fine
    group by d1, d2, d3, d4
),

kept as (
    select
        (
            select list(concat_ws(chr(31), d1, d2, d3, d4) order by round(spend, 9) desc, d1, d2, d3, d4)
            from group_spend
        )[1:$top] as together,
        (
            select list(d1 order by round(spend, 9) desc, d1)
            from (select d1, sum(spend) as spend from group_spend group by d1)
        )[1:$top] as slot1,
        (
            select list(d2 order by round(spend, 9) desc, d2)
            from (select d2, sum(spend) as spend from group_spend group by d2)
        )[1:$top] as slot2,
        (
            select list(d3 order by round(spend, 9) desc, d3)
            from (select d3, sum(spend) as spend from group_spend group by d3)
        )[1:$top] as slot3,
        (
            select list(d4 order by round(spend, 9) desc, d4)
            from (select d4, sum(spend) as spend from group_spend group by d4)
        )[1:$top] as slot4
),

-- Each finest group with its folding flags (folded_all: in the breakdown of all dimensions
-- together; folded1..4: in the breakdown of dimension i alone) and its key in every breakdown:
-- t1..t4 all dimensions together, s1..s4 each alone ('(other)' when folded). Not materialized:
-- a cheap projection of `fine`.
fine_keyed as not materialized (
    select
        *,
        case when folded_all then '(other)' else d1 end as t1,
        case when folded_all and d2 is not null then '(other)' else d2 end as t2,
        case when folded_all and d3 is not null then '(other)' else d3 end as t3,
        case when folded_all and d4 is not null then '(other)' else d4 end as t4,
        case when folded1 then '(other)' else d1 end as s1,
        case when folded2 then '(other)' else d2 end as s2,
        case when folded3 then '(other)' else d3 end as s3,
        case when folded4 then '(other)' else d4 end as s4
    from (
        select
            f.*,
            coalesce($top is not null and not list_contains(k.together, concat_ws(chr(31), f.d1, f.d2, f.d3, f.d4)), false) as folded_all,
            coalesce($top is not null and not list_contains(k.slot1, f.d1), false) as folded1,
            coalesce($top is not null and not list_contains(k.slot2, f.d2), false) as folded2,
            coalesce($top is not null and not list_contains(k.slot3, f.d3), false) as folded3,
            coalesce($top is not null and not list_contains(k.slot4, f.d4), false) as folded4
        from fine as f, kept as k
    )
),

-- The additive metrics of every breakdown, added up from the finest groups.
rolled as (
    select
        case
            when grouping(t1) = 0 then 2
            when grouping(s1) = 0 then 3
            when grouping(s2) = 0 then 4
            when grouping(s3) = 0 then 5
            when grouping(s4) = 0 then 6
            when grouping(period) = 0 then 1
            else 0
        end as breakdown_order,
        period,
        coalesce(t1, s1) as dim1,
        coalesce(t2, s2) as dim2,
        coalesce(t3, s3) as dim3,
        coalesce(t4, s4) as dim4,
        coalesce(folded_all, folded1, folded2, folded3, folded4, false) as is_other,
        cast(sum(requests) as bigint) as requests,
        min(first_created_at) as first_created_at,
        max(last_created_at) as last_created_at,
        sum(total_cost) as total_cost,
        sum(usage) as usage,
        sum(upstream_inference_cost) as upstream_inference_cost,
        sum(cache_discount) as cache_discount,
        cast(sum(tokens_prompt) as bigint) as tokens_prompt,
        cast(sum(tokens_completion) as bigint) as tokens_completion,
        cast(sum(native_tokens_prompt) as bigint) as native_tokens_prompt,
        cast(sum(native_tokens_completion) as bigint) as native_tokens_completion,
        cast(sum(native_tokens_reasoning) as bigint) as native_tokens_reasoning,
        cast(sum(native_tokens_cached) as bigint) as native_tokens_cached,
        cast(sum(billed_tokens) as bigint) as billed_tokens,
        cast(sum(cancelled) as bigint) as cancelled,
        cast(sum(streamed) as bigint) as streamed,
        cast(sum(byok) as bigint) as byok,
        cast(sum(finish_stop) as bigint) as finish_stop,
        cast(sum(finish_length) as bigint) as finish_length,
        cast(sum(finish_tool_calls) as bigint) as finish_tool_calls,
        cast(sum(finish_content_filter) as bigint) as finish_content_filter,
        cast(sum(finish_error) as bigint) as finish_error,
        cast(sum(finish_other) as bigint) as finish_other,
        cast(sum(finish_null) as bigint) as finish_null,
        cast(sum(requests_with_attempts) as bigint) as requests_with_attempts,
        cast(sum(fallbacks) as bigint) as fallbacks,
        cast(sum(response_cache_hits) as bigint) as response_cache_hits,
        cast(sum(attempts) as bigint) as attempts,
        cast(sum(attempts_429) as bigint) as attempts_429,
        cast(sum(attempts_5xx) as bigint) as attempts_5xx,
        cast(sum(attempts_other_failed) as bigint) as attempts_other_failed
    from fine_keyed
    group by grouping sets (
        (),
        (period),
        (period, t1, t2, t3, t4, folded_all),
        (period, s1, folded1),
        (period, s2, folded2),
        (period, s3, folded3),
        (period, s4, folded4)
    )
),

-- The breakdowns asked for (the grouping sets of rolled cover the most: 4 dimensions, periods).
shown as (
    select *
    from rolled
    where requests > 0
        and (breakdown_order <> 1 or $granularity is not null)
        and (breakdown_order not in (2, 4) or len($dims) >= 2)
        and (breakdown_order <> 5 or len($dims) >= 3)
        and (breakdown_order <> 6 or len($dims) >= 4)
)

-- The rows, in the order of the breakdowns (ordered by columns of `shown`: the query selects no
-- helper column it would have to leave out, so it reads the same in Spark, which has no EXCLUDE).
select
    case r.breakdown_order
        when 0 then 'total'
        when 1 then 'period'
        when 2 then array_to_string($dims, '+')
        else $dims[r.breakdown_order - 2]
    end as breakdown,
    r.period,
    r.dim1,
    r.dim2,
    r.dim3,
    r.dim4,
    r.is_other,
    r.first_created_at,
    r.last_created_at,
    r.requests,
    r.total_cost,
    r.usage,
    r.upstream_inference_cost,
    r.cache_discount,
    r.tokens_prompt,
    r.tokens_completion,
    r.native_tokens_prompt,
    r.native_tokens_completion,
    r.native_tokens_reasoning,
    r.native_tokens_cached,
    r.billed_tokens,
    r.total_cost / nullif(
        sum(r.total_cost) over (partition by r.breakdown_order, r.period), 0
    ) as spend_share,
    r.total_cost / r.requests as cost_per_request,
    r.total_cost / nullif(r.billed_tokens, 0) * 1000000 as cost_per_million_billed_tokens,
    r.native_tokens_cached / nullif(r.native_tokens_prompt, 0) as cache_hit_rate,
    cast(null as double) as latency_p50_ms,
    cast(null as double) as latency_p90_ms,
    cast(null as double) as latency_p99_ms,
    cast(null as double) as generation_time_p50_ms,
    cast(null as double) as generation_time_p90_ms,
    cast(null as double) as generation_time_p99_ms,
    cast(null as double) as throughput_p50_tps,
    cast(null as double) as throughput_p90_tps,
    cast(null as double) as throughput_p99_tps,
    r.cancelled / r.requests as cancelled_share,
    r.streamed / r.requests as streamed_share,
    r.byok / r.requests as byok_share,
    r.finish_stop / r.requests as finish_reason_stop_share,
    r.finish_length / r.requests as finish_reason_length_share,
    r.finish_tool_calls / r.requests as finish_reason_tool_calls_share,
    r.finish_content_filter / r.requests as finish_reason_content_filter_share,
    r.finish_error / r.requests as finish_reason_error_share,
    r.finish_other / r.requests as finish_reason_other_share,
    r.finish_null / r.requests as finish_reason_null_share,
    r.finish_error / r.requests as error_rate,
    r.requests_with_attempts,
    r.fallbacks / nullif(r.requests_with_attempts, 0) as fallback_rate,
    r.attempts,
    r.attempts_429 / nullif(r.attempts, 0) as attempt_429_share,
    r.attempts_5xx / nullif(r.attempts, 0) as attempt_5xx_share,
    r.attempts_other_failed / nullif(r.attempts, 0) as attempt_other_failed_share,
    r.response_cache_hits,
    r.response_cache_hits / r.requests as response_cache_hit_share
from shown as r
-- spend rounded to 1e-9 USD: float sums differ in their last bits from run to run, and the
-- order must not
order by
    r.breakdown_order, r.period nulls first, r.is_other, round(r.total_cost, 9) desc, r.dim1, r.dim2, r.dim3, r.dim4
