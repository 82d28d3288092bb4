-- generations_keys_not_null: data test, must return zero rows.
--
-- Purpose   Every non-nullable field of the field table and every lineage key is set, and the
--           derived keys the reports group on can be computed.
-- Grain     one row per generation with a missing key.
-- Inputs    generations.
-- Output    id (VARCHAR), _source_file (VARCHAR), _source_line (BIGINT), missing (VARCHAR[]:
--           the names of the null columns).
-- Params    none.
with

checked as (
    select
        id,
        _source_file,
        _source_line,
        list_concat(
            case when id is null or id = '' then ['id'] else [] end,
            case when model is null or model = '' then ['model'] else [] end,
            case when created_at is null then ['created_at'] else [] end,
            case when day is null then ['day'] else [] end,
            case when origin is null then ['origin'] else [] end,
            case when is_byok is null then ['is_byok'] else [] end,
            case when total_cost is null then ['total_cost'] else [] end,
            case when usage is null then ['usage'] else [] end,
            case when billed_tokens is null then ['billed_tokens'] else [] end,
            case when _source_file is null then ['_source_file'] else [] end,
            case when _source_line is null then ['_source_line'] else [] end,
            case when _run_id is null then ['_run_id'] else [] end,
            case when _ingested_at is null then ['_ingested_at'] else [] end
        ) as missing
    from generations
)

select * from checked where len(missing) > 0
