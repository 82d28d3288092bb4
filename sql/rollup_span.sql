-- rollup_span: the first and the last instant of the lake's generations, from the daily rollup.
--
-- Purpose   Where the lake's data starts and ends, without opening a day's files: `orusage
--           check` takes baseline days only from the first day on (sql/generations_span.sql
--           reads the first and last partitions instead, for a lake that has no rollup yet).
-- Grain     one row.
-- Inputs    daily_rollup (sql/views/daily_rollup.sql).
-- Output    first  TIMESTAMPTZ  min(created_at); null for an empty lake
--           last   TIMESTAMPTZ  max(created_at); null for an empty lake
-- Params    none.
select min(first_created_at) as first, max(last_created_at) as last
from daily_rollup
