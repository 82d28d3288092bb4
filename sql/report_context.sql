-- report_context: the session time zone and the declared types of the report's dimensions.
--
-- Purpose   What a report needs besides its rows: the zone its timestamps are shown in, and
--           each dimension's type, so CSV/JSON/Parquet give a dimension back as its value.
-- Grain     one row per dimension asked for.
-- Inputs    the session's settings; information_schema.columns of the generations view.
-- Output    time_zone    VARCHAR  the session's TimeZone setting (the same on every row)
--           column_name  VARCHAR  a dimension of the report
--           data_type    VARCHAR  its DuckDB type in the generations view
-- Params    $dims  VARCHAR[]  the report's dimensions
select current_setting('TimeZone') as time_zone, column_name, data_type
from information_schema.columns
where table_name = 'generations' and list_contains($dims, column_name)
