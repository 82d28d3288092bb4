-- collect_ids_in_lake: which of a list of generation ids the lake already holds.
--
-- Purpose   `orusage collect --since` and the scheduled run's feed fetch only the records the
--           lake does not hold yet: this names the ones it does, kept or quarantined (a
--           quarantined record is fixed by `orusage quarantine replay`, not by fetching it again).
--           Only the partitions of the window's days are read (a filter on `date`): a record
--           of another day is fetched again and then dropped by the ingest as a duplicate.
-- Grain     one row per id of $ids that is in the lake.
-- Inputs    generations (sql/views/generations.sql), quarantine (sql/views/quarantine.sql).
-- Output    id  VARCHAR  a generation id of $ids found in the lake
-- Params    $ids        VARCHAR[]  the generation ids listed by the Analytics API
--           $first_day  DATE       the first UTC day of the window (a day early is fine)
--           $last_day   DATE       the last UTC day of the window
with

listed as (
    select unnest(cast($ids as varchar[])) as id
),

kept as (
    select g.id
    from generations as g
    where g.date between $first_day and $last_day
        and g.id in (select id from listed)
),

quarantined as (
    select q.id
    from quarantine as q
    where q.id in (select id from listed)
),

final as (
    select id from kept
    union
    select id from quarantined
)

select * from final
