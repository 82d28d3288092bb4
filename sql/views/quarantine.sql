-- quarantine: rows that failed validation, with every reason and the raw input line.
--
-- Purpose   What the ingest set aside, and why (the same rows `orusage quarantine` lists).
-- Grain     one row per rejected input line (run_id, source_file, source_line)
--           (sql/tests/quarantine_grain_unique.sql).
-- Inputs    lake_quarantine (sql/views/lake_quarantine.sql).
-- Output    run_id          VARCHAR      the run that read the line
--           source_file     VARCHAR      absolute path of the input file
--           source_line     BIGINT       1-based line number in the (decompressed) file
--           id              VARCHAR      the record's id when it could be read, else null
--           reasons         VARCHAR[]    every reason the line was rejected
--           reason_count    BIGINT       len(reasons)
--           raw             VARCHAR      the input line as read
--           quarantined_at  TIMESTAMPTZ  when the run started (UTC)
-- Params    none.
create or replace view quarantine as
with

source as (
    select * from lake_quarantine
),

final as (
    select
        run_id,
        source_file,
        source_line,
        id,
        reasons,
        cast(len(reasons) as bigint) as reason_count,
        raw,
        quarantined_at
    from source
)

select * from final;
