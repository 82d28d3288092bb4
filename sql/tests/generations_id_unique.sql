-- generations_id_unique: data test, must return zero rows.
--
-- Purpose   The grain of `generations`: one row per generation id across the whole lake (the
--           ingest settles duplicates within a run and against the lake).
-- Grain     one row per id that appears more than once.
-- Inputs    generations.
-- Output    id (VARCHAR), copies (BIGINT: rows with that id), dates (DATE[]: their UTC days).
-- Params    none.
select
    id,
    count(*) as copies,
    list(distinct day order by day) as dates
from generations
group by id
having count(*) > 1
