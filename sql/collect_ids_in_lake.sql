-- collect_ids_in_lake: which of a list of generation ids the lake already holds.
--
-- Purpose   `orusage collect --since` and the scheduled run's feed fetch only the records the
--           lake does not hold yet: this names the ones it does.
--           Only the partitions of the window's days are read (a filter on `date`): a record
--           of another day is fetched again and then dropped by the ingest as a duplicate.
-- Grain     one row per id of $ids that is in the lake.
-- Inputs    generations (sql/views/generations.sql).
-- Output    id  VARCHAR  a generation id of $ids found in the lake
-- Params    $ids        VARCHAR[]  the generation ids listed by the Analytics API
--           $first_day  DATE       the first UTC day of the window (a day early is fine)
--           $last_day   DATE       the last UTC day of the window
select distinct g.id
from generations as g
where g.date between $first_day and $last_day
    and g.id in (select unnest(cast($ids as varchar[])))
