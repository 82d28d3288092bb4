-- lake_quarantine: rows that failed validation, exactly as stored.
--
-- Purpose   The source of the `quarantine` view.
-- Grain     one row per rejected input line (run_id, source_file, source_line).
-- Inputs    quarantine/<run_id>.parquet, relative to the current directory.
-- Output    run_id, source_file, source_line, id, reasons (list of text), raw, quarantined_at.
-- Params    none.
-- A lake without quarantined rows has no file: then `orusage` creates `lake_quarantine` as an
-- empty table with the ingest's quarantine columns instead (pipeline/lake/views.py).
create or replace view lake_quarantine as
select *
from read_parquet('quarantine/*.parquet', hive_partitioning = false, union_by_name = true);
