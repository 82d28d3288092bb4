-- rollup_per_day: how many generations the lake holds on each UTC day, from the daily rollup.
--
-- Purpose   The lake's days at a glance without opening every day's files: `orusage reconcile`
--           lists the days it did not compare with their records (sql/generations_per_day.sql
--           counts the rows instead, for a lake that has no rollup yet).
-- Grain     one row per UTC day that has at least one generation.
-- Inputs    daily_rollup (sql/views/daily_rollup.sql).
-- Output    day          DATE    UTC day
--           generations  BIGINT  generations created that day
-- Params    none.
select day, cast(sum(requests) as bigint) as generations
from daily_rollup
group by day
order by day
