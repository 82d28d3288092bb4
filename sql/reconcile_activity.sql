-- reconcile_activity: OpenRouter's own daily aggregates (GET /api/v1/activity) beside the same
-- sums over the lake, per day x model x provider, with the differences and their verdict.
--
-- Purpose   Tell whether the lake agrees with what OpenRouter bills: requests, billed tokens and
--           spend, key by key. Names are matched by the rules in docs/reconcile.md:
--             model     a lake row's model resolves to an activity model by the first rule that
--                       holds (each compares lower-cased, trimmed text, over every activity row):
--                         'slug'           lake model = activity model
--                         'permaslug'      the lake row's served attempt
--                                          (provider_responses[len(...)]) model_permaslug =
--                                          activity model_permaslug
--                         'model_is_permaslug'  lake model = activity model_permaslug (rows
--                                          imported from the dashboard CSV hold the permaslug)
--                         'variant'        lake model without its ':variant' suffix = activity
--                                          model
--                         'unmatched'      none: the lake's own name is kept, and reported
--             provider  the served attempt's endpoint_id = an activity endpoint_id gives that
--                       row's provider; otherwise the names are compared lower-cased with every
--                       character that is not a letter or a digit removed ('Google AI Studio' =
--                       'google-ai-studio'); a lake row without provider_name takes its served
--                       attempt's; none at all is '' (shown as '(none)').
-- Grain     one row per (day, model_key, provider_key) present on either side; days are the
--           $days only.
-- Inputs    activity_rows  the activity items, registered by the caller (pipeline/openrouter/reconcile.py):
--                          date DATE, model, model_permaslug, endpoint_id, provider_name
--                          VARCHAR, requests, prompt_tokens, completion_tokens,
--                          reasoning_tokens, cached_tokens BIGINT, usage,
--                          byok_usage_inference DOUBLE (USD)
--           generations (sql/views/generations.sql): its UTC `day` and its stored columns.
-- Output    day DATE (UTC), model, provider VARCHAR (the activity's spelling when matched),
--           model_key, provider_key VARCHAR (the normalized keys),
--           missing_in VARCHAR  'activity' | 'lake' | null (both sides have the key),
--           note VARCHAR        why a key is on one side only (see docs/reconcile.md),
--           model_match VARCHAR the rules that matched the lake's models of this key, comma
--                               separated ('unmatched' when none did), null without lake rows,
--           lake_models VARCHAR the lake's model names of this key, comma separated,
--           for each metric m in requests, prompt_tokens, completion_tokens, reasoning_tokens,
--           cached_tokens (counts), usage, byok_usage_inference (USD):
--             activity_m, lake_m, diff_m (= lake - activity; 0 when a side lacks the key),
--           agrees BOOLEAN  every metric within tolerance.
--           Lake sums: requests = count(*); *_tokens = sum(native_tokens_*), nulls as 0;
--           usage = sum(usage); byok_usage_inference = sum(upstream_inference_cost) of BYOK rows.
-- Params    $days           DATE[]     the days compared (UTC)
--           $tolerance_usd  DOUBLE     absolute tolerance of the money metrics, USD
--           $tolerance_pct  DOUBLE     relative tolerance of every metric, percent of the
--                                      activity value
-- By hand (DuckDB shell, in the lake directory: `duckdb orusage.duckdb`):
--   CREATE TABLE activity_rows AS
--     SELECT * REPLACE (date::DATE AS date) FROM (SELECT unnest(data, recursive := true)
--     FROM read_json('activity.json'));
--   PREPARE reconcile AS <the query below>;
--   EXECUTE reconcile(days := ['2026-09-01'::DATE], tolerance_usd := 0.000001, tolerance_pct := 0);
--   (read_json infers types: fine by hand; orusage checks each item's types itself.)
with

activity as (
    select
        cast(date as date) as day,
        coalesce(model, model_permaslug) as model,
        model_permaslug,
        endpoint_id,
        provider_name,
        coalesce(requests, 0) as requests,
        coalesce(prompt_tokens, 0) as prompt_tokens,
        coalesce(completion_tokens, 0) as completion_tokens,
        coalesce(reasoning_tokens, 0) as reasoning_tokens,
        coalesce(cached_tokens, 0) as cached_tokens,
        coalesce(usage, 0) as usage,
        coalesce(byok_usage_inference, 0) as byok_usage_inference
    from activity_rows
),

lake_rows as (
    select
        day,
        model,
        provider_responses[len(provider_responses)].model_permaslug as served_permaslug,
        provider_responses[len(provider_responses)].endpoint_id as served_endpoint_id,
        coalesce(provider_name, provider_responses[len(provider_responses)].provider_name) as provider_name,
        native_tokens_prompt,
        native_tokens_completion,
        native_tokens_reasoning,
        native_tokens_cached,
        usage,
        case when is_byok then upstream_inference_cost end as byok_cost
    from generations
    where list_contains($days, day)
        and list_contains($days, date)  -- the partition column: only those days' files are opened
),

lake_grouped as (
    select
        day, model, served_permaslug, served_endpoint_id, provider_name,
        count(*) as requests,
        coalesce(sum(native_tokens_prompt), 0) as prompt_tokens,
        coalesce(sum(native_tokens_completion), 0) as completion_tokens,
        coalesce(sum(native_tokens_reasoning), 0) as reasoning_tokens,
        coalesce(sum(native_tokens_cached), 0) as cached_tokens,
        coalesce(sum(usage), 0) as usage,
        coalesce(sum(byok_cost), 0) as byok_usage_inference
    from lake_rows
    group by all
),

-- Names of the activity side, normalized once.
activity_slugs as (
    select lower(trim(model)) as slug_key, min(model) as slug
    from activity where model is not null group by 1
),

activity_permaslugs as (
    select lower(trim(model_permaslug)) as perma_key, min(lower(trim(model))) as slug_key
    from activity where model_permaslug is not null and model is not null group by 1
),

activity_endpoints as (
    select endpoint_id, min(regexp_replace(lower(coalesce(provider_name, '')), '[^a-z0-9]', '', 'g')) as provider_key
    from activity where endpoint_id is not null group by 1
),

lake_models as (
    select distinct model, served_permaslug from lake_grouped
),

resolved as (
    select
        m.model,
        m.served_permaslug,
        case
            when s.slug_key is not null then 'slug'
            when p.slug_key is not null then 'permaslug'
            when q.slug_key is not null then 'model_is_permaslug'
            when v.slug_key is not null then 'variant'
            else 'unmatched'
        end as model_match,
        coalesce(s.slug_key, p.slug_key, q.slug_key, v.slug_key, lower(trim(m.model))) as model_key
    from lake_models m
    left join activity_slugs s on s.slug_key = lower(trim(m.model))
    left join activity_permaslugs p on p.perma_key = lower(trim(m.served_permaslug))
    left join activity_permaslugs q on q.perma_key = lower(trim(m.model))
    left join activity_slugs v
        on m.model like '%:%' and v.slug_key = lower(trim(regexp_replace(m.model, ':[^/:]*$', '')))
),

lake_keyed as (
    select
        g.day,
        r.model_key,
        coalesce(e.provider_key, regexp_replace(lower(coalesce(g.provider_name, '')), '[^a-z0-9]', '', 'g')) as provider_key,
        g.model,
        g.provider_name,
        r.model_match,
        g.requests, g.prompt_tokens, g.completion_tokens, g.reasoning_tokens, g.cached_tokens,
        g.usage, g.byok_usage_inference
    from lake_grouped g
    join resolved r
        on r.model = g.model and r.served_permaslug is not distinct from g.served_permaslug
    left join activity_endpoints e on e.endpoint_id = g.served_endpoint_id
),

lake_keys as (
    select
        day, model_key, provider_key,
        min(model) as model_label,
        min(provider_name) as provider_label,
        string_agg(distinct model_match, ',' order by model_match) as model_match,
        string_agg(distinct model, ',' order by model) as lake_models,
        sum(requests) as requests,
        sum(prompt_tokens) as prompt_tokens,
        sum(completion_tokens) as completion_tokens,
        sum(reasoning_tokens) as reasoning_tokens,
        sum(cached_tokens) as cached_tokens,
        sum(usage) as usage,
        sum(byok_usage_inference) as byok_usage_inference
    from lake_keyed
    group by day, model_key, provider_key
),

activity_keys as (
    select
        day,
        lower(trim(model)) as model_key,
        regexp_replace(lower(coalesce(provider_name, '')), '[^a-z0-9]', '', 'g') as provider_key,
        min(model) as model_label,
        min(provider_name) as provider_label,
        sum(requests) as requests,
        sum(prompt_tokens) as prompt_tokens,
        sum(completion_tokens) as completion_tokens,
        sum(reasoning_tokens) as reasoning_tokens,
        sum(cached_tokens) as cached_tokens,
        sum(usage) as usage,
        sum(byok_usage_inference) as byok_usage_inference
    from activity
    group by all
),

joined as (
    select
        coalesce(a.day, l.day) as day,
        coalesce(a.model_key, l.model_key) as model_key,
        coalesce(a.provider_key, l.provider_key) as provider_key,
        coalesce(a.model_label, l.model_label) as model,
        coalesce(a.provider_label, l.provider_label, '(none)') as provider,
        case when a.day is null then 'activity' when l.day is null then 'lake' end as missing_in,
        l.model_match,
        l.lake_models,
        cast(coalesce(a.requests, 0) as bigint) as activity_requests,
        cast(coalesce(l.requests, 0) as bigint) as lake_requests,
        cast(coalesce(a.prompt_tokens, 0) as bigint) as activity_prompt_tokens,
        cast(coalesce(l.prompt_tokens, 0) as bigint) as lake_prompt_tokens,
        cast(coalesce(a.completion_tokens, 0) as bigint) as activity_completion_tokens,
        cast(coalesce(l.completion_tokens, 0) as bigint) as lake_completion_tokens,
        cast(coalesce(a.reasoning_tokens, 0) as bigint) as activity_reasoning_tokens,
        cast(coalesce(l.reasoning_tokens, 0) as bigint) as lake_reasoning_tokens,
        cast(coalesce(a.cached_tokens, 0) as bigint) as activity_cached_tokens,
        cast(coalesce(l.cached_tokens, 0) as bigint) as lake_cached_tokens,
        coalesce(a.usage, 0) as activity_usage,
        coalesce(l.usage, 0) as lake_usage,
        coalesce(a.byok_usage_inference, 0) as activity_byok_usage_inference,
        coalesce(l.byok_usage_inference, 0) as lake_byok_usage_inference
    from activity_keys a
    full outer join lake_keys l
        on a.day = l.day and a.model_key = l.model_key and a.provider_key = l.provider_key
),

differences as (
    select
        *,
        lake_requests - activity_requests as diff_requests,
        lake_prompt_tokens - activity_prompt_tokens as diff_prompt_tokens,
        lake_completion_tokens - activity_completion_tokens as diff_completion_tokens,
        lake_reasoning_tokens - activity_reasoning_tokens as diff_reasoning_tokens,
        lake_cached_tokens - activity_cached_tokens as diff_cached_tokens,
        lake_usage - activity_usage as diff_usage,
        lake_byok_usage_inference - activity_byok_usage_inference as diff_byok_usage_inference
    from joined
),

final as (
    select
        day, model, provider, model_key, provider_key, missing_in,
        case
            when missing_in = 'activity' and model_match = 'unmatched'
                then 'model not matched to any activity model'
            when missing_in = 'activity'
                 and provider_key not in (select provider_key from activity_keys)
                then 'provider not matched to any activity provider'
            when missing_in = 'activity' then 'no activity row for this day'
            when missing_in = 'lake' and model_key not in (select model_key from lake_keys)
                then 'model not found in the lake'
            when missing_in = 'lake' and provider_key not in (select provider_key from lake_keys)
                then 'provider not found in the lake'
            when missing_in = 'lake' then 'no lake records for this day'
        end as note,
        model_match,
        lake_models,
        activity_requests, lake_requests, diff_requests,
        activity_prompt_tokens, lake_prompt_tokens, diff_prompt_tokens,
        activity_completion_tokens, lake_completion_tokens, diff_completion_tokens,
        activity_reasoning_tokens, lake_reasoning_tokens, diff_reasoning_tokens,
        activity_cached_tokens, lake_cached_tokens, diff_cached_tokens,
        activity_usage, lake_usage, diff_usage,
        activity_byok_usage_inference, lake_byok_usage_inference, diff_byok_usage_inference,
        (
            abs(diff_requests) <= $tolerance_pct / 100 * abs(activity_requests)
            and abs(diff_prompt_tokens) <= $tolerance_pct / 100 * abs(activity_prompt_tokens)
            and abs(diff_completion_tokens) <= $tolerance_pct / 100 * abs(activity_completion_tokens)
            and abs(diff_reasoning_tokens) <= $tolerance_pct / 100 * abs(activity_reasoning_tokens)
            and abs(diff_cached_tokens) <= $tolerance_pct / 100 * abs(activity_cached_tokens)
            and abs(diff_usage)
                <= greatest($tolerance_usd, $tolerance_pct / 100 * abs(activity_usage))
            and abs(diff_byok_usage_inference)
                <= greatest($tolerance_usd, $tolerance_pct / 100 * abs(activity_byok_usage_inference))
        ) as agrees
    from differences
)

select * from final
order by day, model, provider
