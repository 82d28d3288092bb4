-- quarantine_worst_files: the input files of one run with the most quarantined rows.
--
-- Purpose   Name the worst files when a run quarantined more than max_quarantine_ratio of its
--           rows (`orusage run`, `orusage ingest`; pipeline/ops/runner.py).
-- Grain     one row per input file of the run with quarantined rows; the 3 with the most.
-- Inputs    quarantine (sql/views/quarantine.sql), manifest (sql/views/manifest.sql).
-- Output    source_file  VARCHAR  the input file
--           quarantined  BIGINT   its rows the run quarantined
--           rows_read    BIGINT   its rows the run read (manifest; 0 when not listed)
-- Params    $run  VARCHAR  the run id
with

quarantined as (
    select source_file, count(*) as quarantined
    from quarantine
    where run_id = $run
    group by source_file
),

read as (
    select path, sum(rows_read) as rows_read
    from manifest
    where run_id = $run
    group by path
),

final as (
    select q.source_file, q.quarantined, cast(coalesce(r.rows_read, 0) as bigint) as rows_read
    from quarantined q
    left join read r on r.path = q.source_file
)

select * from final
order by quarantined desc, source_file
limit 3
