-- collect_state: where the scheduled collection stands, from the run summaries of the lake.
--
-- Purpose   `orusage run` with [collect] enabled starts its window at the last collected instant
--           (minus the overlap). That instant is kept in the summary of the run that published
--           it (`_runs/<run_id>.json`, key `collect`), so it moves only when a run publishes.
-- Grain     one row (NULLs when no run has collected yet).
-- Inputs    lake_runs (sql/views/lake_runs.sql): the JSON text of every run summary.
-- Output    watermark       TIMESTAMPTZ  the latest `collect.until`: every generation created
--                                        before it was listed, and fetched or reported missing
--           first_since     TIMESTAMPTZ  the start of the first collection (days from the next
--                                        UTC midnight on are collected in full)
--           reconciled_on   DATE         the last UTC day on which a run reconciled with
--                                        GET /api/v1/activity
--           runs            BIGINT       runs that collected
-- Params    none.
with

source as (
    select cast(content as json) as summary from lake_runs
),

collects as (
    select
        cast(summary ->> '$.collect.until' as timestamptz) as until,
        cast(summary ->> '$.collect.first_since' as timestamptz) as first_since,
        cast(summary ->> '$.collect.reconciled_on' as date) as reconciled_on
    from source
    where (summary -> '$.collect') is not null
),

final as (
    select
        max(until) as watermark,
        min(first_since) as first_since,
        max(reconciled_on) as reconciled_on,
        count(*) as runs
    from collects
)

select * from final
