-- lake_manifest: the input files every run read, exactly as stored.
--
-- Purpose   The source of the `manifest` view.
-- Grain     one row per (run_id, path): an input file one run read.
-- Inputs    _manifest/<run_id>.parquet, relative to the current directory.
-- Output    path, size, sha256, run_id, ingested_at, rows_read, rows_written, rows_quarantined,
--           rows_duplicate.
-- Params    none.
-- A lake whose runs read no file yet has no manifest file: then `orusage` creates
-- `lake_manifest` as an empty table with the manifest's columns instead (pipeline/lake/views.py).
create or replace view lake_manifest as
select *
from read_parquet('_manifest/*.parquet', hive_partitioning = false, union_by_name = true);
