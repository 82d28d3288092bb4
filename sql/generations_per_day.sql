-- generations_per_day: how many generations the lake holds on each UTC day.
--
-- Purpose   The lake's days at a glance: `orusage reconcile` lists the days it did not compare
--           (outside the activity files) with their records.
-- Grain     one row per UTC day that has at least one generation.
-- Inputs    generations (sql/views/generations.sql).
-- Output    day          DATE    UTC day of created_at
--           generations  BIGINT  generations created that day
-- Params    none.
select day, count(*) as generations
from generations
group by day
order by day
