-- quarantine_replay_rows: the quarantined rows to replay, with where each one is stored.
--
-- Purpose   What `orusage quarantine replay` reads again (pipeline/ingest/replay.py). It reads the
--           quarantine files of the version the replay starts from, not the views: it needs
--           each row's file and position to rewrite those files in the new version.
-- Grain     one row per quarantine row (file, row number in the file).
-- Inputs    quarantine Parquet files ($files).
-- Output    run_id, source_file VARCHAR; source_line BIGINT; id VARCHAR; reasons VARCHAR[];
--           raw VARCHAR; quarantined_at TIMESTAMPTZ (as in sql/views/quarantine.sql), then
--           filename  VARCHAR  the quarantine file that holds the row
--           file_row  BIGINT   0-based row in that file
--           ordered by source_file, source_line, then newest first.
-- Params    $files  VARCHAR[]  the quarantine files of the current version
--           $run    VARCHAR    a run id prefix, or null for every run
select run_id, source_file, source_line, id, reasons, raw, quarantined_at,
       filename, file_row_number as file_row
from read_parquet($files, filename = true, file_row_number = true)
where $run is null or starts_with(run_id, $run)
order by source_file, source_line, quarantined_at desc, run_id desc, filename, file_row
