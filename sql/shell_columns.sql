-- shell_columns: the columns of the session's views and tables, for the shell's `.schema`.
--
-- Purpose   Show what a view holds, as `.schema NAME` in `orusage sql` prints it.
-- Grain     one row per view or table x column, in column order.
-- Inputs    information_schema.columns of the session.
-- Output    table_name   VARCHAR  the view or table
--           column_name  VARCHAR  the column
--           data_type    VARCHAR  its DuckDB type
-- Params    $name  VARCHAR  one view or table; '' for all of them (internal `_` names left out).
select table_name, column_name, data_type
from information_schema.columns
where table_name not like '\_%' escape '\' and ($name = '' or table_name = $name)
order by table_name, ordinal_position
