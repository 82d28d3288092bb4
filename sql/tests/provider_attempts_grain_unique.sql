-- provider_attempts_grain_unique: data test, must return zero rows.
--
-- Purpose   The grain of `provider_attempts`: one row per (generation_id, attempt_number), the
--           numbers 1..attempt_count without gaps, and exactly one served attempt (the last).
-- Grain     one row per generation whose attempts break that.
-- Inputs    provider_attempts.
-- Output    generation_id (VARCHAR), attempts (BIGINT: rows), distinct_numbers (BIGINT),
--           first_number, last_number, attempt_count (BIGINT), served (BIGINT: rows with
--           is_served).
-- Params    none.
select
    generation_id,
    count(*) as attempts,
    count(distinct attempt_number) as distinct_numbers,
    min(attempt_number) as first_number,
    max(attempt_number) as last_number,
    any_value(attempt_count) as attempt_count,
    count(*) filter (where is_served) as served
from provider_attempts
group by generation_id
having count(*) <> count(distinct attempt_number)
    or min(attempt_number) <> 1
    or max(attempt_number) <> count(*)
    or any_value(attempt_count) <> count(*)
    or count(*) filter (where is_served) <> 1
