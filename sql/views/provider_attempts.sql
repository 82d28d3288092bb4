-- provider_attempts: one row per provider attempt of a generation (fallbacks included).
--
-- Purpose   Unnests `provider_responses`: which providers were tried, in what order, with what
--           HTTP status and latency, and which attempt served the request.
-- Grain     one row per (generation_id, attempt_number)
--           (sql/tests/provider_attempts_grain_unique.sql).
-- Inputs    generations (sql/views/generations.sql). A generation whose provider_responses is
--           null or empty has no row here.
-- Output    generation_id        VARCHAR      the generation's `id`
--           created_at           TIMESTAMPTZ  the generation's created_at (UTC instant)
--           day                  DATE         its UTC day
--           model                VARCHAR      the generation's model
--           attempt_number       BIGINT       1-based position in provider_responses
--           attempt_count        BIGINT       attempts of the generation
--           is_served            BOOLEAN      the last attempt: the one that served
--           attempt_id           VARCHAR      the attempt's own id (may be null when it failed)
--           endpoint_id, model_permaslug, provider_name, routed_service_tier   VARCHAR
--           status               BIGINT       the provider's HTTP status (200 served)
--           status_class         VARCHAR      '2xx', '429', '5xx', 'other' (any other status),
--                                             'unknown' (null status)
--           is_failed            BOOLEAN      status known and not 2xx
--           latency              DOUBLE       the attempt's latency, ms
--           is_byok              BOOLEAN      the attempt used the caller's own key
-- Params    none.
create or replace view provider_attempts as
with

generations_with_attempts as (
    select id, created_at, day, model, attempt_count, provider_responses
    from generations
    where attempt_count > 0
),

-- Unnest in the select list, the position beside each attempt (as fast as a plain unnest;
-- WITH ORDINALITY is many times slower in DuckDB).
attempts as (
    select
        id as generation_id,
        created_at,
        day,
        model,
        attempt_count,
        unnest(provider_responses) as attempt,
        unnest(range(1, attempt_count + 1)) as attempt_number
    from generations_with_attempts
),

final as (
    select
        generation_id,
        created_at,
        day,
        model,
        attempt_number,
        attempt_count,
        attempt_number = attempt_count as is_served,
        attempt.id as attempt_id,
        attempt.endpoint_id as endpoint_id,
        attempt.model_permaslug as model_permaslug,
        attempt.provider_name as provider_name,
        attempt.routed_service_tier as routed_service_tier,
        attempt.status as status,
        case
            when attempt.status is null then 'unknown'
            when attempt.status between 200 and 299 then '2xx'
            when attempt.status = 429 then '429'
            when attempt.status between 500 and 599 then '5xx'
            else 'other'
        end as status_class,
        attempt.status is not null and attempt.status not between 200 and 299 as is_failed,
        attempt.latency as latency,
        attempt.is_byok as is_byok
    from attempts
)

select * from final;
