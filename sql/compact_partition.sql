-- compact_partition: the rows of one partition's small files, each id once, in created_at order.
--
-- Purpose   What `orusage compact` writes in place of a partition's small files
--           (pipeline/ops/maintain.py); it reads the files of the version being built, not the views.
-- Grain     one row per id (the copy with the earliest _ingested_at, then _run_id,
--           _source_file, _source_line); ids also present in the partition's large files are
--           left out.
-- Inputs    the small and the large Parquet files of one partition of the new version.
-- Output    every column of the lake's declared schema (schemas/generation.toml, then lineage).
-- Params    $files      VARCHAR[]  the small files
--           $has_large  BOOLEAN    whether the partition has large files
--           $large      VARCHAR[]  its large files (any file when $has_large is false)
select *
from read_parquet($files)
where not ($has_large and id in (select id from read_parquet($large)))
qualify row_number() over (
    partition by id order by _ingested_at, _run_id, _source_file, _source_line
) = 1
order by created_at, id
