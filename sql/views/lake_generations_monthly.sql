-- lake_generations_monthly: lake_generations of a lake with merged months, records as stored.
--
-- (`orusage compact --months-older-than` merged whole old months into monthly files.)
--
-- Purpose   As sql/views/lake_generations.sql, for a lake that also holds merged months: the
--           daily partitions' files, read through the schema file with the Hive partition
--           column `date` from their paths, and the files of the merged months
--           (generations/month=YYYY-MM/*.parquet), which store the same columns with `date`
--           inside the file. A filter on `date` skips the other days' daily files by path, and
--           the other months' row groups by their statistics (each row group's min and max
--           `date`; the file's footer is read, no data page).
-- Grain     one row per generation id (the ingest and compact keep one row per id; sql/tests
--           checks it).
-- Inputs    _schema/date=1970-01-01/generations.parquet, generations/date=YYYY-MM-DD/*.parquet,
--           generations/month=YYYY-MM/*.parquet, relative to the lake directory.
-- Output    every field of schemas/generation.toml, in order, plus the lineage columns, then
--           date (DATE: the UTC day of `created_at`).
-- Params    none.
-- pipeline/lake/views.py uses this file when the lake has daily and monthly files, and
-- sql/views/lake_generations_monthly_only.sql when it has monthly files only.
create or replace view lake_generations as
select *
from read_parquet(
    ['_schema/date=1970-01-01/generations.parquet', 'generations/date=*/*.parquet'],
    hive_partitioning = true,
    hive_types = {'date': 'date'}
)
union all by name
select *
from read_parquet('generations/month=*/*.parquet', hive_partitioning = false);
