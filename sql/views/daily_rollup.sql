-- daily_rollup: every count and sum the report uses, per UTC day, model, provider and region,
-- kept with the lake (on the bench's lake, one row per about 100 records).
--
-- Purpose   Sums over long periods without reading every record: spend per month by model
--           over all of history (sql/rollup_monthly_spend.sql), the page's trend. Its sums equal
--           the same sums over `generations` (tests/test_rollup.py); percentiles are not in it.
--           A UTC day is its grain: it answers periods of whole UTC days, in UTC.
-- Grain     one row per (day, model, provider_name, data_region).
-- Inputs    lake_rollup (sql/views/lake_rollup.sql).
-- Output    the columns of sql/rollup_daily.sql: day (DATE, UTC), the four dimensions (values,
--           nulls kept), requests, first_created_at, last_created_at, and every count and sum
--           of sql/report.sql's finest groups (USD, tokens, requests, attempts).
-- Params    none.
create or replace view daily_rollup as
select * from lake_rollup;
