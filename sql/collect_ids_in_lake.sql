-- collect_ids_in_lake: which of a list of generation ids the lake already holds.
--
-- Purpose   `orusage collect --since` and the scheduled run's feed fetch only the records the
--           lake does not hold yet: this names the ones it does.
-- Grain     one row per id of $ids that is in the lake.
-- Inputs    generations (sql/views/generations.sql).
-- Output    id  VARCHAR  a generation id of $ids found in the lake
-- Params    $ids  VARCHAR[]  the generation ids listed by the Analytics API
select distinct g.id
from generations as g
where g.id in (select unnest(cast($ids as varchar[])))
