-- checked_requests: the generations in the spans `orusage check` looks at.
--
-- Purpose   Tell "no data to check" from "all is well": the budgets' span (the day before
--           as_of's local day, or the month's start, to as_of) and the anomaly check's day.
-- Grain     one row.
-- Inputs    generations (sql/views/generations.sql).
-- Output    requests  BIGINT  generations created in either span
-- Params    $since1  TIMESTAMPTZ  start of the first span (inclusive)
--           $until1  TIMESTAMPTZ  its end (exclusive)
--           $since2  TIMESTAMPTZ  start of the second span (inclusive; the first span again
--                                 when only one check is on)
--           $until2  TIMESTAMPTZ  its end (exclusive)
select count(*) as requests
from generations
-- Each span also bounds the partition column `date` (UTC days), so only its files are opened.
where (
    created_at >= $since1 and created_at < $until1
    and date >= cast(timezone('UTC', $since1) as date) and date <= cast(timezone('UTC', $until1) as date)
) or (
    created_at >= $since2 and created_at < $until2
    and date >= cast(timezone('UTC', $since2) as date) and date <= cast(timezone('UTC', $until2) as date)
)
