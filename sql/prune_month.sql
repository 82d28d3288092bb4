-- prune_month: the rows of a merged month that a retention keeps, in created_at order.
--
-- Purpose   What `orusage prune` writes in place of a merged month's files
--           (generations/month=YYYY-MM/, pipeline/ops/maintain.py) when the cutoff falls inside
--           the month: the days from the cutoff on are kept, the earlier ones dropped.
-- Grain     one row per generation id, as in the files.
-- Inputs    the merged month's files of the version being built (`date` stored in them).
-- Output    every column of the files (the declared schema, then date).
-- Params    $files   VARCHAR[]  the month's files
--           $cutoff  DATE       the first UTC day kept
select *
from read_parquet($files, hive_partitioning = false)
where date >= $cutoff
order by created_at, id
