-- generations: typed generation records with the derived columns every report uses.
--
-- Purpose   The table to query: one row per generation, every stored column unchanged, plus
--           columns derived here once so that reports and ad-hoc SQL agree on their meaning.
-- Grain     one row per generation `id` (sql/tests/generations_id_unique.sql).
-- Inputs    lake_generations (sql/views/lake_generations.sql).
-- Output    every column of lake_generations (schemas/generation.toml order, then lineage), then:
--             day                    DATE     UTC calendar day of created_at (the partition key)
--             billed_tokens          BIGINT   native_tokens_prompt + native_tokens_completion,
--                                             nulls as 0 (tokens the provider billed)
--             cache_hit              BOOLEAN  native_tokens_cached > 0 (null when unknown)
--             attempt_count          BIGINT   number of provider attempts; null when the record
--                                             has no provider_responses (older exports, cache hits)
--             is_fallback            BOOLEAN  attempt_count > 1 (a provider failed first)
--             is_response_cache_hit  BOOLEAN  served from the response cache
--                                             (response_cache_source_id is set)
--             is_error               BOOLEAN  finish_reason = 'error'
--             throughput             DOUBLE   native_tokens_completion per second of
--                                             generation_time (tokens/s); null when
--                                             generation_time is null or 0
-- Params    none.
create or replace view generations as
with

source as (
    select * from lake_generations
),

final as (
    select
        *,
        cast(timezone('UTC', created_at) as date) as day,
        coalesce(native_tokens_prompt, 0) + coalesce(native_tokens_completion, 0) as billed_tokens,
        native_tokens_cached > 0 as cache_hit,
        cast(len(provider_responses) as bigint) as attempt_count,
        len(provider_responses) > 1 as is_fallback,
        response_cache_source_id is not null as is_response_cache_hit,
        coalesce(finish_reason = 'error', false) as is_error,
        case
            when generation_time > 0 then native_tokens_completion / (generation_time / 1000.0)
        end as throughput
    from source
)

select * from final;
