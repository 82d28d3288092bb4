-- shell_tables: the views and tables a SQL session can query, for the shell's `.tables`.
--
-- Purpose   List what `orusage sql` offers: the lake's views (and any table the user created in
--           the session), without the internal ones whose names start with `_`.
-- Grain     one row per view or table.
-- Inputs    information_schema.tables of the session.
-- Output    table_name  VARCHAR  the name to query
-- Params    none.
select table_name
from information_schema.tables
where table_name not like '\_%' escape '\'
order by 1
