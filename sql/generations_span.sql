-- generations_span: the first and the last instant of the lake's generations.
--
-- Purpose   Where the lake's data starts and ends: `orusage check` takes baseline days only
--           from the first day on, and says where the data ends when it has none to check.
-- Grain     one row.
-- Inputs    generations (sql/views/generations.sql), only the partitions of $first_day and
--           $last_day (the lake's first and last `date=` directories, listed by the caller), so
--           the query opens their files and no others.
-- Output    first  TIMESTAMPTZ  min(created_at); null for an empty lake
--           last   TIMESTAMPTZ  max(created_at); null for an empty lake
-- Params    $first_day  DATE  the first UTC day the lake holds (null: none)
--           $last_day   DATE  the last one
select min(created_at) as first, max(created_at) as last
from generations
where date = cast($first_day as date) or date = cast($last_day as date)
