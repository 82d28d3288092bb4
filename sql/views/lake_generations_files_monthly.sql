-- lake_generations_files_monthly: lake_generations_files with merged months among the files.
--
-- Purpose   As sql/views/lake_generations_files.sql, when some of the days the rollup rebuilds
--           lie in merged months (generations/month=YYYY-MM/, `orusage compact
--           --months-older-than`): their files hold the `date` column themselves.
-- Grain     one row per Parquet row of the files named.
-- Inputs    _schema/date=1970-01-01/generations.parquet (no rows: the declared columns), the
--           daily files in the variable `orusage_daily_files` (Hive partition `date` from their
--           paths, possibly none) and the merged months' files in `orusage_month_files`; paths
--           relative to the version.
-- Output    the columns of sql/views/lake_generations.sql, `date` last.
-- Params    none: the two lists are DuckDB variables (SET VARIABLE, pipeline/lake/views.py).
create or replace view lake_generations as
select *
from read_parquet(
    list_concat(['_schema/date=1970-01-01/generations.parquet'], getvariable('orusage_daily_files')),
    hive_partitioning = true,
    hive_types = {'date': 'date'}
)
union all by name
select *
from read_parquet(getvariable('orusage_month_files'), hive_partitioning = false);
