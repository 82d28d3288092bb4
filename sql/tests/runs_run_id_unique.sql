-- runs_run_id_unique: data test, must return zero rows.
--
-- Purpose   The grain of `runs` (one row per run_id, with its counts), and lineage: every
--           generation row and every quarantined row was written by a run that has a summary.
-- Grain     one row per problem.
-- Inputs    runs, generations, quarantine.
-- Output    run_id (VARCHAR), problem (VARCHAR), rows (BIGINT: rows concerned).
-- Params    none.
select run_id, 'duplicate run_id' as problem, count(*) as rows
from runs
group by run_id
having count(*) > 1
union all
select run_id, 'missing counts', 1
from runs
where run_id is null
    or started_at is null
    or rows_read is null
    or rows_read <> rows_written + rows_quarantined + rows_duplicate
union all
select g._run_id, 'generation rows of an unknown run', count(*)
from generations as g
anti join runs as r on r.run_id = g._run_id
group by g._run_id
union all
select q.run_id, 'quarantined rows of an unknown run', count(*)
from quarantine as q
anti join runs as r on r.run_id = q.run_id
group by q.run_id
