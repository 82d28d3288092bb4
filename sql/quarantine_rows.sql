-- quarantine_rows: the quarantined rows `orusage quarantine` lists and shows, newest run first.
--
-- Purpose   List the quarantine (optionally one run's rows), or find rows by id or by
--           FILE:LINE (pipeline/query/quarantine.py). A filter whose parameter is null is off.
-- Grain     one row per rejected input line (run_id, source_file, source_line).
-- Inputs    quarantine (sql/views/quarantine.sql).
-- Output    run_id, source_file VARCHAR; source_line BIGINT; id VARCHAR; reasons VARCHAR[];
--           raw VARCHAR; quarantined_at TIMESTAMPTZ (see sql/views/quarantine.sql)
-- Params    $run    VARCHAR  a run id prefix: only the runs it starts (null: every run)
--           $id     VARCHAR  the id of the record (null: any)
--           $line   BIGINT   the input line number (null: any)
--           $file   VARCHAR  with $line: the path of the input file, or a suffix of it after a `/`
--           $limit  BIGINT   at most this many rows (null: all)
select run_id, source_file, source_line, id, reasons, raw, quarantined_at
from quarantine
where ($run is null or starts_with(run_id, $run))
    and ($id is null or id = $id)
    and ($line is null or (source_line = $line and (source_file = $file or ends_with(source_file, '/' || $file))))
order by run_id desc, source_file, source_line
limit $limit
