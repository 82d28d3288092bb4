-- lake_runs: the text of every run summary, one row per file.
--
-- Purpose   The source of the `runs` view. Each `_runs/<run_id>.json` holds one JSON object;
--           it is read as text and parsed by the `runs` view with declared types (no inference).
-- Grain     one row per ingest run that published a version.
-- Inputs    _runs/*.json, relative to the current directory.
-- Output    filename (text), content (text: the JSON object).
-- Params    none.
-- A lake that has no run yet has no file: then `orusage` creates `lake_runs` as an empty table
-- with these two columns instead (pipeline/lake/views.py).
create or replace view lake_runs as
select filename, content
from read_text('_runs/*.json');
