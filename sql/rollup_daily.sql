-- rollup_daily: the daily rollup of the additive metrics, for the UTC days $days.
--
-- Purpose   The rows of `<lake>/rollup/month=YYYY-MM/rollup.parquet`, which
--           pipeline/lake/rollup.py rebuilds for every day a write changes, in the transaction
--           that publishes the rows: every count and sum the report uses, so that sums over long
--           periods (spend per month by model over all of history, the page's trend) add up a
--           few rows per day instead of every record. Percentiles are not additive: the report
--           computes them from the rows.
-- Grain     one row per (day, model, provider_name, data_region): the UTC day and the
--           dimensions marked rollup=True in pipeline/schema/dimensions.py, their values as
--           stored (null kept); tests/test_rollup.py checks the grain. app_id is left out: on
--           the bench's lake (300 Zipf-popular apps, each using a few models) it multiplies the
--           rows about 9x, from about 1 row per 118 records to 1 per 13 (make bench measures it).
-- Inputs    generations (sql/views/generations.sql), only the partitions of $days (the `date`
--           column: no other daily file is opened; a merged month's file outside the range of
--           $days is skipped by its statistics).
-- Output    day (DATE, UTC), model, provider_name, data_region (VARCHAR),
--           requests, first_created_at, last_created_at (TIMESTAMPTZ), total_cost, usage,
--           upstream_inference_cost, cache_discount (DOUBLE, USD), tokens_prompt,
--           tokens_completion, native_tokens_prompt, native_tokens_completion,
--           native_tokens_reasoning, native_tokens_cached, billed_tokens (BIGINT, tokens),
--           cancelled, streamed, byok, finish_stop, finish_length, finish_tool_calls,
--           finish_content_filter, finish_error, finish_other, finish_null,
--           response_cache_hits (BIGINT, requests), requests_with_attempts, fallbacks
--           (BIGINT, requests), attempts, attempts_429, attempts_5xx, attempts_other_failed
--           (BIGINT, provider attempts): the columns of the same names in sql/report.sql.
-- Params    $days  DATE[]  the UTC days to roll up
with

selected as (
    select *
    from generations
    where list_contains($days, date)
        -- the same days as a range: lets a merged month's file (the `date` column stored in
        -- the file) be skipped by its statistics, as a daily file is by its path
        and date between list_min($days) and list_max($days)
),

final as (
    select
        -- the partition's UTC day: the lake writes each row under the UTC day of its
        -- created_at, so this is `day` without converting every created_at
        date as day,
        model, provider_name, data_region,
        count(*) as requests,
        min(created_at) as first_created_at,
        max(created_at) as last_created_at,
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
        count(*) filter (where is_response_cache_hit) as response_cache_hits,
        -- The provider attempts, counted per request with list functions: one pass, no unnest.
        count(*) filter (where len(provider_responses) > 0) as requests_with_attempts,
        count(*) filter (where len(provider_responses) >= 2) as fallbacks,
        cast(coalesce(sum(len(provider_responses)), 0) as bigint) as attempts,
        cast(coalesce(sum(len(list_filter(provider_responses, lambda a: a.status = 429))), 0) as bigint)
            as attempts_429,
        cast(coalesce(sum(len(list_filter(provider_responses, lambda a: a.status between 500 and 599))), 0) as bigint)
            as attempts_5xx,
        cast(coalesce(sum(len(list_filter(
            provider_responses,
            lambda a: a.status not between 200 and 299 and a.status <> 429 and a.status not between 500 and 599
        ))), 0) as bigint) as attempts_other_failed
    from selected
    group by date, model, provider_name, data_region
)

select * from final
order by day, model, provider_name, data_region
