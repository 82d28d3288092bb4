-- lake_generations: the lake's generation records exactly as stored, one row per Parquet row.
--
-- Purpose   The source of the `generations` view: the published Parquet files, read through
--           the `generations` link of the lake (it points into `current`, so a query sees one
--           whole published version). No renames, no casts: the files are written through the
--           declared Arrow schema (schemas/generation.toml), so the types are the declared ones.
-- Grain     one row per generation id (the ingest keeps one row per id; sql/tests checks it).
-- Inputs    _schema/date=1970-01-01/generations.parquet (no rows: the declared columns), then
--           generations/date=YYYY-MM-DD/*.parquet, relative to the current directory (DuckDB
--           resolves relative paths against the working directory, or `SET file_search_path`).
--           DuckDB takes the columns from the first file, the schema file, and reads the Hive
--           partition column `date` from the paths: a filter on `date` skips the files of the
--           other days without opening them (partition pruning), also when it matches none.
-- Output    every field of schemas/generation.toml, in order, plus the lineage columns
--           (`_extra`, `_source_file`, `_source_line`, `_run_id`, `_ingested_at`, ...), then
--           date (DATE: the UTC day of `created_at`, the partition).
-- Params    none.
-- An empty lake has no file to read: then `orusage` creates `lake_generations` as an empty table
-- with the declared columns instead of this view, and a lake written before the schema file
-- existed is read by sql/views/lake_generations_unpruned.sql until its next write
-- (pipeline/lake/views.py).
create or replace view lake_generations as
select *
from read_parquet(
    ['_schema/date=1970-01-01/generations.parquet', 'generations/*/*.parquet'],
    hive_partitioning = true,
    hive_types = {'date': 'date'}
);
