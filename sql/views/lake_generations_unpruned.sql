-- lake_generations_unpruned: lake_generations for a lake that has no schema file yet.
--
-- Purpose   A lake published before `_schema/` existed gets the file at its next write (any
--           ingest, compact, prune or replay). Until then this view reads its files with
--           union_by_name, which opens every file's footer to learn the columns: correct, but
--           a `date` filter no longer spares the other days' files.
-- Grain     one row per generation id, as lake_generations.
-- Inputs    generations/date=YYYY-MM-DD/*.parquet, relative to the current directory.
-- Output    the columns of lake_generations, `date` last.
-- Params    none.
create or replace view lake_generations as
select *
from read_parquet(
    'generations/*/*.parquet',
    hive_partitioning = true,
    hive_types = {'date': 'date'},
    union_by_name = true
);
