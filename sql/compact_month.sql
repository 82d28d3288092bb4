-- compact_month: the rows of one whole UTC month, each id once, in created_at order, with `date`.
--
-- Purpose   What `orusage compact --months-older-than` writes as the merged month's files
--           (generations/month=YYYY-MM/, pipeline/ops/maintain.py) in place of the month's daily
--           partitions and of its earlier merged files; it reads the files of the version being
--           built, not the views.
-- Grain     one row per id (the copy with the earliest _ingested_at, then _run_id,
--           _source_file, _source_line), as sql/compact_partition.sql.
-- Inputs    the daily files of the month (Hive partition `date` from their paths) and its
--           merged files (`date` stored in them).
-- Output    every column of the lake's declared schema (schemas/generation.toml, then lineage),
--           then date (DATE: the UTC day of created_at, as the daily partition named it).
-- Params    $daily        VARCHAR[]  the month's daily files (at least one)
--           $has_monthly  BOOLEAN    whether the month has merged files already
--           $monthly      VARCHAR[]  its merged files (any file when $has_monthly is false)
with

daily as (
    select * from read_parquet($daily, hive_partitioning = true, hive_types = {'date': 'date'})
),

monthly as (
    select * from read_parquet($monthly, hive_partitioning = false)
    where $has_monthly
),

combined as (
    select * from daily
    union all by name
    select * from monthly
),

final as (
    select *
    from combined
    qualify row_number() over (
        partition by id order by _ingested_at, _run_id, _source_file, _source_line
    ) = 1
)

select * from final
order by created_at, id
