-- html_window: the report's time window and the previous window of the same length, for the
-- "change against the previous period" of the HTML report's headline numbers.
--
-- Purpose   The window is [$since, $until) when given; a missing bound is taken from the data
--           selected: the start of the local day (in $tz) of the first generation, the start
--           of the local day after the last one. The previous window has the same length in
--           local wall-clock time and ends where the window starts: with --since 2026-10-08
--           --until 2026-10-15 it is [2026-10-01, 2026-10-08). Computed in $tz by DuckDB (ICU),
--           so a window across a daylight-saving change keeps its calendar days.
-- Grain     one row.
-- Inputs    none (the bounds and the first and last instants are parameters).
-- Params    $tz                VARCHAR      IANA zone, e.g. 'UTC'
--           $since             VARCHAR      local date-time in $tz, inclusive; NULL: from the data
--           $until             VARCHAR      local date-time in $tz, exclusive; NULL: from the data
--           $first_created_at  TIMESTAMPTZ  first generation selected (NULL when none)
--           $last_created_at   TIMESTAMPTZ  last generation selected (NULL when none)
-- Output    since, until                    VARCHAR  the window, local 'YYYY-MM-DD HH:MM:SS'
--           previous_since, previous_until  VARCHAR  the previous window, same form
--           days                            DOUBLE   the window's length in days
-- By hand:  PREPARE w AS <the query below>;
--           EXECUTE w(tz := 'UTC', since := '2026-10-08', until := NULL,
--                     first_created_at := NULL, last_created_at := TIMESTAMPTZ '2026-10-15 12:00Z');
with

bounds as (
    select
        coalesce(
            cast($since as timestamp),
            cast(cast(timezone($tz, cast($first_created_at as timestamptz)) as date) as timestamp)
        ) as since,
        coalesce(
            cast($until as timestamp),
            cast(cast(timezone($tz, cast($last_created_at as timestamptz)) as date) + 1 as timestamp)
        ) as until
),

final as (
    select
        strftime(since, '%Y-%m-%d %H:%M:%S') as since,
        strftime(until, '%Y-%m-%d %H:%M:%S') as until,
        strftime(since - (until - since), '%Y-%m-%d %H:%M:%S') as previous_since,
        strftime(since, '%Y-%m-%d %H:%M:%S') as previous_until,
        epoch(until - since) / 86400.0 as days
    from bounds
)

select * from final
