-- html_window: the report's time window, the period of the HTML report's headline numbers and
-- the previous period they are compared with.
--
-- Purpose   The window is [$since, $until) when given; a missing bound is taken from the data
--           selected: the start of the local day (in $tz) of the first generation, the start
--           of the local day after the last one. The headline period is the window when
--           $since is given; without $since it is the last $headline_days local days of data:
--           the days up to and including the local day of the last generation (cut at $until).
--           With $headline_in_window (the scheduled run's page, whose window is its last
--           report.days days) it is the last $headline_days days of the window even though
--           $since is given, and never starts before $since.
--           The previous period has the headline period's length in local wall-clock time and
--           ends where it starts: with --since 2026-10-08 --until 2026-10-15 it is
--           [2026-10-01, 2026-10-08); with no --since and a last generation on 2026-10-16 the
--           headline period is [2026-09-17, 2026-10-17) and the previous one
--           [2026-08-18, 2026-09-17). Computed in $tz by DuckDB (ICU), so a period across a
--           daylight-saving change keeps its calendar days.
-- Grain     one row.
-- Inputs    none (the bounds and the first and last instants are parameters).
-- Params    $tz                VARCHAR      IANA zone, e.g. 'UTC'
--           $since             VARCHAR      local date-time in $tz, inclusive; NULL: from the data
--           $until             VARCHAR      local date-time in $tz, exclusive; NULL: from the data
--           $first_created_at  TIMESTAMPTZ  first generation selected (NULL when none)
--           $last_created_at   TIMESTAMPTZ  last generation selected (NULL when none)
--           $headline_days     INTEGER      length of the headline period in days when $since is NULL
--           $headline_in_window BOOLEAN     the headline period is the window's last $headline_days
--                                           days also when $since is given
-- Output    since, until                    VARCHAR  the window, local 'YYYY-MM-DD HH:MM:SS'
--           days                            DOUBLE   the window's length in days
--           headline_since, headline_until  VARCHAR  the headline period, same form
--           previous_since, previous_until  VARCHAR  the previous period, same form
-- By hand:  PREPARE w AS <the query below>;
--           EXECUTE w(tz := 'UTC', since := NULL, until := NULL, headline_days := 30,
--                     headline_in_window := false,
--                     first_created_at := TIMESTAMPTZ '2026-09-01 00:44Z',
--                     last_created_at := TIMESTAMPTZ '2026-10-16 12:58Z');
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
        ) as until,
        cast(cast(timezone($tz, cast($last_created_at as timestamptz)) as date) + 1 as timestamp) as data_until
),

headline as (
    select
        since,
        until,
        case
            when $since is null then least(until, data_until) - to_days(cast($headline_days as integer))
            when $headline_in_window
                then greatest(since, least(until, data_until) - to_days(cast($headline_days as integer)))
            else since
        end as headline_since,
        case when $since is null or $headline_in_window then least(until, data_until) else until end as headline_until
    from bounds
),

final as (
    select
        strftime(since, '%Y-%m-%d %H:%M:%S') as since,
        strftime(until, '%Y-%m-%d %H:%M:%S') as until,
        epoch(until - since) / 86400.0 as days,
        strftime(headline_since, '%Y-%m-%d %H:%M:%S') as headline_since,
        strftime(headline_until, '%Y-%m-%d %H:%M:%S') as headline_until,
        strftime(headline_since - (headline_until - headline_since), '%Y-%m-%d %H:%M:%S') as previous_since,
        strftime(headline_since, '%Y-%m-%d %H:%M:%S') as previous_until
    from headline
)

select * from final
