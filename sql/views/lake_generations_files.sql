-- lake_generations_files: lake_generations over a list of files, those of the days the rollup rebuilds.
--
-- Purpose   The source of the `generations` view while a transaction rolls up the days it
--           changed (pipeline/lake/rollup.py): it names the changed days' files instead of
--           globbing every partition of the version, so the rollup's cost follows the days
--           written, not the days kept. Days in merged months are read by
--           sql/views/lake_generations_files_monthly.sql instead.
-- Grain     one row per Parquet row of the files named.
-- Inputs    _schema/date=1970-01-01/generations.parquet (no rows: the declared columns), then
--           the daily files in the variable `orusage_daily_files` (Hive partition `date` from
--           their paths), relative to the version; possibly none.
-- Output    the columns of sql/views/lake_generations.sql, `date` last.
-- Params    none: the list is a DuckDB variable (SET VARIABLE, pipeline/lake/views.py).
create or replace view lake_generations as
select *
from read_parquet(
    list_concat(['_schema/date=1970-01-01/generations.parquet'], getvariable('orusage_daily_files')),
    hive_partitioning = true,
    hive_types = {'date': 'date'}
);
