-- compact_month_expected: the rows of one UTC month's files, and how many compaction keeps.
--
-- Purpose   What sql/compact_month.sql must return, counted before anything is written
--           (pipeline/ops/maintain.py checks the rows written against it), and the days the
--           rows belong to (each must lie in the month).
-- Grain     one row.
-- Inputs    the daily files of the month and its merged files.
-- Output    rows       BIGINT  rows in the files
--           keep       BIGINT  distinct ids among them
--           first_day  DATE    the earliest `date` of the rows
--           last_day   DATE    the latest `date` of the rows
-- Params    as sql/compact_month.sql: $daily, $has_monthly, $monthly.
with

combined as (
    select *
    from read_parquet($daily, hive_partitioning = true, hive_types = {'date': 'date'})
    union all by name
    select *
    from read_parquet($monthly, hive_partitioning = false)
    where $has_monthly
)

select count(*) as rows, count(distinct id) as keep, min(date) as first_day, max(date) as last_day
from combined
