-- lake_generations: the lake's generation records exactly as stored, one row per Parquet row.
--
-- Purpose   The source of the `generations` view: the published Parquet files, read through
--           the `generations` link of the lake (it points into `current`, so a query sees one
--           whole published version). No renames, no casts: the files are written through the
--           declared Arrow schema (schemas/generation.toml), so the types are the declared ones.
-- Grain     one row per generation id (the ingest keeps one row per id; sql/tests checks it).
-- Inputs    generations/date=YYYY-MM-DD/*.parquet, relative to the current directory (DuckDB
--           resolves relative paths against the working directory, or `SET file_search_path`).
--           hive_partitioning is off: the `date=` directory is the UTC day of `created_at`, which
--           the `generations` view derives itself. union_by_name lets files written before a
--           lineage column was added be read beside newer ones.
-- Output    every field of schemas/generation.toml, in order, plus the lineage columns
--           (`_extra`, `_source_file`, `_source_line`, `_run_id`, `_ingested_at`, ...).
-- Params    none.
-- An empty lake has no file to read: then `orusage` creates `lake_generations` as an empty table
-- with the declared columns instead of this view (pipeline/lake/views.py).
create or replace view lake_generations as
select *
from read_parquet('generations/*/*.parquet', hive_partitioning = false, union_by_name = true);
