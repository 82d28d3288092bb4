-- manifest: the input files the ingest read, with their size, hash and row counts.
--
-- Purpose   What was ingested from where: the ingest skips a file whose sha256 is here, and
--           `orusage run` skips an inbox file whose path and size match an unchanged one.
-- Grain     one row per (run_id, path): an input file one run read.
-- Inputs    lake_manifest (sql/views/lake_manifest.sql).
-- Output    path              VARCHAR      absolute path of the input file when it was read
--           size              BIGINT       its size, bytes
--           sha256            VARCHAR      its SHA-256, hex
--           run_id            VARCHAR      the run that read it
--           ingested_at       TIMESTAMPTZ  when that run started (UTC)
--           rows_read, rows_written, rows_quarantined, rows_duplicate   BIGINT   its rows
-- Params    none.
create or replace view manifest as
with

source as (
    select * from lake_manifest
),

final as (
    select
        path,
        size,
        sha256,
        run_id,
        ingested_at,
        rows_read,
        rows_written,
        rows_quarantined,
        rows_duplicate
    from source
)

select * from final;
