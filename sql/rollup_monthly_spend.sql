-- rollup_monthly_spend: spend per UTC month by model over all of history, from the daily rollup.
--
-- Purpose   The long-range question the rollup is for: a few rows per day instead of every
--           record (`orusage sql rollup_monthly_spend`; make bench times it against the same
--           sums over `generations`). Equal to those sums (tests/test_rollup.py).
-- Grain     one row per (month, model).
-- Inputs    daily_rollup (sql/views/daily_rollup.sql).
-- Output    month       VARCHAR  'YYYY-MM', the UTC month
--           model       VARCHAR  the model (null kept)
--           requests    BIGINT   generations
--           total_cost  DOUBLE   USD
-- Params    none.
select
    strftime(day, '%Y-%m') as month,
    model,
    cast(sum(requests) as bigint) as requests,
    sum(total_cost) as total_cost
from daily_rollup
group by 1, 2
order by 1, 4 desc, 2
