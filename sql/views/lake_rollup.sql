-- lake_rollup: the lake's daily rollup exactly as stored, one row per Parquet row.
--
-- Purpose   The source of the `daily_rollup` view: the rollup files that the transaction that
--           published the rows wrote with them (pipeline/lake/rollup.py), read through the
--           lake's `rollup` link (it points into `current`, as the generations do).
-- Grain     one row per (day, model, provider_name, data_region).
-- Inputs    rollup/month=YYYY-MM/rollup.parquet, relative to the current directory.
-- Output    the columns of sql/rollup_daily.sql.
-- Params    none.
-- A lake without rollup files gets `lake_rollup` as an empty table with the columns of
-- sql/rollup_daily.sql instead (pipeline/lake/views.py).
create or replace view lake_rollup as
select *
from read_parquet('rollup/*/*.parquet', hive_partitioning = false);
