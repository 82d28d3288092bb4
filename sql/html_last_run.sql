-- html_last_run: the ingest run that last fed the lake, for the header of the HTML report.
--
-- Purpose   Tell the reader how fresh the page is: the latest run that wrote rows, or, when no
--           run wrote any, the latest run at all.
-- Grain     at most one row.
-- Inputs    runs (sql/views/runs.sql).
-- Params    none.
-- Output    run_id        VARCHAR      the run
--           started_at    TIMESTAMPTZ  when it started (UTC)
--           files         BIGINT       input files it read
--           rows_written  BIGINT       rows it added to the lake
--           runs          BIGINT       ingest runs the lake has recorded in all
with

final as (
    select
        run_id,
        started_at,
        files,
        rows_written,
        count(*) over () as runs
    from runs
)

select * from final
order by rows_written > 0 desc, started_at desc, run_id desc
limit 1
