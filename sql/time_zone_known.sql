-- time_zone_known: whether a time zone name is one ICU knows.
--
-- Purpose   Check `--tz` (or the settings' timezone) before a report buckets time in it.
-- Grain     one row.
-- Inputs    pg_timezone_names() (DuckDB's ICU extension).
-- Output    known  BIGINT  1 when the name is known, else 0
-- Params    $tz  VARCHAR  an IANA time zone name, e.g. Europe/Berlin
select count(*) as known
from pg_timezone_names()
where name = $tz
