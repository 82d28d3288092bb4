-- provider_attempts_keys_not_null: data test, must return zero rows.
--
-- Purpose   Every attempt row keys back to its generation and has its position.
-- Grain     one row per attempt with a missing key.
-- Inputs    provider_attempts.
-- Output    generation_id (VARCHAR), attempt_number (BIGINT), attempt_count (BIGINT),
--           status_class (VARCHAR).
-- Params    none.
select generation_id, attempt_number, attempt_count, status_class
from provider_attempts
where generation_id is null
    or attempt_number is null
    or attempt_count is null
    or is_served is null
    or status_class is null
