-- quarantine_grain_unique: data test, must return zero rows.
--
-- Purpose   The grain of `quarantine`: one row per rejected input line (run, file, line), each
--           with its keys, at least one reason and the raw text.
-- Grain     one row per (run_id, source_file, source_line) that is repeated or has a missing key.
-- Inputs    quarantine.
-- Output    run_id (VARCHAR), source_file (VARCHAR), source_line (BIGINT), copies (BIGINT),
--           problem (VARCHAR: 'duplicate' or 'missing key').
-- Params    none.
select run_id, source_file, source_line, count(*) as copies, 'duplicate' as problem
from quarantine
group by run_id, source_file, source_line
having count(*) > 1
union all
select run_id, source_file, source_line, 1, 'missing key'
from quarantine
where run_id is null
    or source_file is null
    or source_line is null
    or raw is null
    or quarantined_at is null
    or coalesce(reason_count, 0) = 0
