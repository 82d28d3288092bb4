-- runs: one row per ingest run that published a lake version, from its summary file.
--
-- Purpose   Lineage: every generation row's `_run_id` and every quarantine row's `run_id`
--           leads here (rows read, written, quarantined, duplicate; seconds; warnings).
-- Grain     one row per run_id (sql/tests/runs_run_id_unique.sql).
-- Inputs    lake_runs (sql/views/lake_runs.sql): the JSON text of `_runs/<run_id>.json`.
-- Output    run_id            VARCHAR      the run
--           started_at        TIMESTAMPTZ  when it started (UTC)
--           schema_contract   VARCHAR      evolve | freeze
--           files             BIGINT       input files read
--           files_skipped     BIGINT       input files skipped (already ingested)
--           rows_read, rows_written, rows_quarantined, rows_duplicate   BIGINT
--           seconds           DOUBLE       wall time of the run, s
--           warnings          JSON         the run's warnings (unknown keys / enum values)
--           file_details      JSON         per input file: path, size, sha256, counts
--           summary_file      VARCHAR      the summary file the row was read from
-- Params    none.
create or replace view runs as
with

source as (
    select filename, cast(content as json) as summary from lake_runs
),

final as (
    select
        summary ->> '$.run_id' as run_id,
        cast(summary ->> '$.started_at' as timestamptz) as started_at,
        summary ->> '$.schema_contract' as schema_contract,
        cast(summary ->> '$.files' as bigint) as files,
        cast(summary ->> '$.files_skipped' as bigint) as files_skipped,
        cast(summary ->> '$.rows_read' as bigint) as rows_read,
        cast(summary ->> '$.rows_written' as bigint) as rows_written,
        cast(summary ->> '$.rows_quarantined' as bigint) as rows_quarantined,
        cast(summary ->> '$.rows_duplicate' as bigint) as rows_duplicate,
        cast(summary ->> '$.seconds' as double) as seconds,
        summary -> '$.warnings' as warnings,
        summary -> '$.file_details' as file_details,
        filename as summary_file
    from source
)

select * from final;
