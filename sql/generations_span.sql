-- generations_span: the first and the last instant of the lake's generations.
--
-- Purpose   Where the lake's data starts and ends: `orusage check` takes baseline days only
--           from the first day on, and says where the data ends when it has none to check.
-- Grain     one row.
-- Inputs    generations (sql/views/generations.sql).
-- Output    first  TIMESTAMPTZ  min(created_at); null for an empty lake
--           last   TIMESTAMPTZ  max(created_at); null for an empty lake
-- Params    none.
select min(created_at) as first, max(created_at) as last
from generations
