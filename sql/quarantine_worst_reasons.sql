-- quarantine_worst_reasons: the most frequent reasons one run quarantined rows for.
--
-- Purpose   Name the top reasons when a run quarantined more than max_quarantine_ratio of its
--           rows (pipeline/ops/runner.py). A reason's text is cut at its first `(` so that the
--           values it quotes do not split one reason into many.
-- Grain     one row per reason (cut); the 3 most frequent.
-- Inputs    quarantine (sql/views/quarantine.sql).
-- Output    reason  VARCHAR  the reason, up to its first `(`, trimmed
--           n       BIGINT   how many times the run's rows were rejected for it
-- Params    $run  VARCHAR  the run id
with

reasons as (
    select unnest(reasons) as reason
    from quarantine
    where run_id = $run
),

final as (
    select trim(split_part(reason, '(', 1)) as reason, count(*) as n
    from reasons
    group by 1
)

select * from final
order by n desc, reason
limit 3
