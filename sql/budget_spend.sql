-- budget_spend: spend and requests per budget period, in total and per value of each budget
-- dimension.
--
-- Purpose   What `orusage check` compares with the budgets (pipeline/ops/checks.py): the spend of
--           the local day of as_of so far, of the day before it, and of the month to date.
-- Grain     one row per (period, dimension, value); period 'today' | 'yesterday' | 'month'
--           (month to date), dimension 'total' (value null) | 'app_id' | 'model' |
--           'external_user'. A period without requests has no row.
-- Inputs    generations (sql/views/generations.sql).
-- Output    period     VARCHAR  'today' | 'yesterday' | 'month'
--           dimension  VARCHAR  'total' | 'app_id' | 'model' | 'external_user'
--           value      VARCHAR  the dimension's value (null: total, or rows without one)
--           spend      DOUBLE   sum(total_cost), USD
--           requests   BIGINT   generations
-- Params    $tz           VARCHAR      IANA time zone of the days and months
--           $since        TIMESTAMPTZ  start of the earliest period (inclusive)
--           $until        TIMESTAMPTZ  as_of (exclusive end)
--           $today        DATE         the local day of as_of
--           $yesterday    DATE         the local day before it
--           $month_start  DATE         the first local day of as_of's month
with

source as (
    select
        cast(timezone($tz, created_at) as date) as local_day,
        total_cost,
        cast(app_id as varchar) as app_id,
        model,
        external_user
    from generations
    where created_at >= $since and created_at < $until
        and date >= cast(timezone('UTC', $since) as date) and date <= cast(timezone('UTC', $until) as date)
),

periods as (
    select *, 'month' as period from source where local_day >= $month_start
    union all
    select *, 'today' as period from source where local_day = $today
    union all
    select *, 'yesterday' as period from source where local_day = $yesterday
),

final as (
    select period, 'total' as dimension, null::varchar as value,
        sum(total_cost) as spend, count(*) as requests
    from periods group by period
    union all
    select period, 'app_id', app_id, sum(total_cost), count(*) from periods group by period, app_id
    union all
    select period, 'model', model, sum(total_cost), count(*) from periods group by period, model
    union all
    select period, 'external_user', external_user, sum(total_cost), count(*)
    from periods group by period, external_user
)

select * from final
