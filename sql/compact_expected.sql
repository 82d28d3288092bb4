-- compact_expected: the rows of one partition's small files, and how many compaction keeps.
--
-- Purpose   What sql/compact_partition.sql must return, counted before anything is written
--           (pipeline/ops/maintain.py checks the rows written against it).
-- Grain     one row.
-- Inputs    the small and the large Parquet files of one partition of the new version.
-- Output    rows  BIGINT  rows in the small files
--           keep  BIGINT  distinct ids among them that the large files do not hold
-- Params    $has_large  BOOLEAN    whether the partition has large files
--           $large      VARCHAR[]  its large files (any file when $has_large is false)
--           $files      VARCHAR[]  the small files
select count(*) as rows, count(distinct id) filter (
    where not ($has_large and id in (select id from read_parquet($large)))
) as keep
from read_parquet($files)
