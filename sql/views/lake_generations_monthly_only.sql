-- lake_generations_monthly_only: lake_generations of a lake of merged months only.
--
-- (Every day of the lake is in a merged month: no daily partition is left.)
--
-- Purpose   As sql/views/lake_generations_monthly.sql, without the daily partitions' files
--           (DuckDB refuses a pattern that matches no file): the schema file gives the declared
--           columns and `date`, the merged months' files the rows, with `date` stored inside.
-- Grain     one row per generation id.
-- Inputs    _schema/date=1970-01-01/generations.parquet, generations/month=YYYY-MM/*.parquet,
--           relative to the lake directory.
-- Output    every field of schemas/generation.toml, in order, plus the lineage columns, then
--           date (DATE: the UTC day of `created_at`).
-- Params    none.
create or replace view lake_generations as
select *
from read_parquet(
    '_schema/date=1970-01-01/generations.parquet',
    hive_partitioning = true,
    hive_types = {'date': 'date'}
)
union all by name
select *
from read_parquet('generations/month=*/*.parquet', hive_partitioning = false);
