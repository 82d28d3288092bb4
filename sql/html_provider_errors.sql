-- html_provider_errors: failed provider attempts per provider ATTEMPTED, for the HTML report.
--
-- Purpose   Which providers fail when they are tried. sql/report.sql counts attempts under the
--           provider that finally served the request (a 429 from Amazon Bedrock followed by a 200
--           from Anthropic lands on Anthropic); this query counts each attempt under the provider
--           it went to, which is where its failure belongs. Same selection as sql/report.sql
--           (time window, filters); the filters apply to the generation, not to the attempt.
-- Grain     one row per attempted provider label (provider_responses[].provider_name; '(null)'
--           when absent, quoted when it looks like a label, as in generation_labels), plus one
--           '(other)' row folding the providers beyond the $top largest by attempts.
-- Inputs    labelled_generations (the table macro over generation_labels, pipeline/schema/dimensions.py),
--           its provider_responses.
-- Params    $tz           VARCHAR    IANA zone of $since and $until, e.g. 'UTC'
--           $since        VARCHAR    local date or date-time in $tz, inclusive; NULL: no bound
--           $until        VARCHAR    local date or date-time in $tz, exclusive; NULL: no bound
--           $filters      MAP(VARCHAR, VARCHAR[])  dimension -> accepted labels, as in
--                                    sql/report.sql ('(null)' matches null, '(empty)' '')
--           $top          BIGINT     keep the N providers with the most attempts, fold the rest
--                                    into '(other)'; NULL keeps every provider
-- Output    provider_name         VARCHAR  the attempted provider's label, or '(other)'
--           is_other              BOOLEAN  the folded row
--           attempts              BIGINT   attempts sent to the provider
--           failed_attempts       BIGINT   attempts with a known non-2xx status
--           attempt_429_share     DOUBLE   fraction of the attempts answered 429
--           attempt_5xx_share     DOUBLE   fraction answered 500-599
--           attempt_other_failed_share  DOUBLE  fraction with another non-2xx status
--           failed_share          DOUBLE   the three above together (a null status is unknown,
--                                          not failed, as in sql/report.sql)
-- By hand, in a DuckDB shell opened in the lake directory on orusage.duckdb:
--   PREPARE q AS <the query below>;
--   EXECUTE q(tz := 'UTC', since := NULL, until := NULL, filters := MAP {}, top := 10);
with

-- The provider attempts of the generations of the window that the filters keep
-- (labelled_generations: generation_labels filtered on the dimension labels).
selected as not materialized (
    select provider_responses
    from labelled_generations([], $filters)
    where provider_responses is not null
        and ($since is null or created_at >= timezone($tz, cast($since as timestamp)))
        and ($until is null or created_at < timezone($tz, cast($until as timestamp)))
        and ($since is null or date >= cast(cast($since as timestamp) - interval 1 day as date))
        and ($until is null or date <= cast(cast($until as timestamp) + interval 1 day as date))
),

attempts as (
    select unnest(provider_responses) as attempt
    from selected
),

per_provider as (
    select
        case
            when attempt.provider_name is null then '(null)'
            when attempt.provider_name = '' then '(empty)'
            when attempt.provider_name in ('(null)', '(empty)', '(other)') or attempt.provider_name like '"%"'
                then '"' || attempt.provider_name || '"'
            else attempt.provider_name
        end as provider_name,
        count(*) as attempts,
        count(*) filter (where attempt.status = 429) as attempts_429,
        count(*) filter (where attempt.status between 500 and 599) as attempts_5xx,
        count(*) filter (
            where attempt.status not between 200 and 299
                and attempt.status <> 429
                and attempt.status not between 500 and 599
        ) as attempts_other_failed
    from attempts
    group by 1
),

ranked as (
    select
        *,
        $top is not null
            and row_number() over (order by attempts desc, provider_name) > $top as is_other
    from per_provider
),

folded as (
    select
        case when is_other then '(other)' else provider_name end as provider_name,
        is_other,
        cast(sum(attempts) as bigint) as attempts,
        cast(sum(attempts_429) as bigint) as attempts_429,
        cast(sum(attempts_5xx) as bigint) as attempts_5xx,
        cast(sum(attempts_other_failed) as bigint) as attempts_other_failed
    from ranked
    group by 1, 2
),

final as (
    select
        provider_name,
        is_other,
        attempts,
        attempts_429 + attempts_5xx + attempts_other_failed as failed_attempts,
        attempts_429 / attempts as attempt_429_share,
        attempts_5xx / attempts as attempt_5xx_share,
        attempts_other_failed / attempts as attempt_other_failed_share,
        (attempts_429 + attempts_5xx + attempts_other_failed) / attempts as failed_share
    from folded
)

select * from final
order by is_other, attempts desc, provider_name
