-- generation_labels: every generation with each report dimension as a text label.
--
-- Purpose   One definition of how a dimension value is shown and filtered on, shared by the
--           report (sql/report.sql) and the HTML report's queries (sql/html_*.sql).
-- Grain     one row per generation `id`, as generations.
-- Inputs    generations (sql/views/generations.sql).
-- Output    every column of generations, then one VARCHAR label per dimension: model_label,
--           provider_name_label, data_region_label, app_id_label, api_type_label,
--           external_user_label, is_byok_label, finish_reason_label, service_tier_label,
--           workspace_id_label, origin_label, router_label. A label is the value as text,
--           '(null)' for a null value and '(empty)' for an empty string. A value that is itself
--           one of the labels '(null)', '(empty)', '(other)', or that starts and ends with a
--           double quote, is shown between double quotes ('"(null)"'), so that distinct values
--           always have distinct labels (pipeline/report.py reads a label back into its value).
-- Params    none.
create or replace view generation_labels as
select
    *,
    case when model is null then '(null)' when model = '' then '(empty)'
        when model in ('(null)', '(empty)', '(other)') or model like '"%"' then '"' || model || '"'
        else model end as model_label,
    case when provider_name is null then '(null)' when provider_name = '' then '(empty)'
        when provider_name in ('(null)', '(empty)', '(other)') or provider_name like '"%"' then '"' || provider_name || '"'
        else provider_name end as provider_name_label,
    case when data_region is null then '(null)' when data_region = '' then '(empty)'
        when data_region in ('(null)', '(empty)', '(other)') or data_region like '"%"' then '"' || data_region || '"'
        else data_region end as data_region_label,
    coalesce(cast(app_id as varchar), '(null)') as app_id_label,
    case when api_type is null then '(null)' when api_type = '' then '(empty)'
        when api_type in ('(null)', '(empty)', '(other)') or api_type like '"%"' then '"' || api_type || '"'
        else api_type end as api_type_label,
    case when external_user is null then '(null)' when external_user = '' then '(empty)'
        when external_user in ('(null)', '(empty)', '(other)') or external_user like '"%"' then '"' || external_user || '"'
        else external_user end as external_user_label,
    coalesce(cast(is_byok as varchar), '(null)') as is_byok_label,
    case when finish_reason is null then '(null)' when finish_reason = '' then '(empty)'
        when finish_reason in ('(null)', '(empty)', '(other)') or finish_reason like '"%"' then '"' || finish_reason || '"'
        else finish_reason end as finish_reason_label,
    case when service_tier is null then '(null)' when service_tier = '' then '(empty)'
        when service_tier in ('(null)', '(empty)', '(other)') or service_tier like '"%"' then '"' || service_tier || '"'
        else service_tier end as service_tier_label,
    case when workspace_id is null then '(null)' when workspace_id = '' then '(empty)'
        when workspace_id in ('(null)', '(empty)', '(other)') or workspace_id like '"%"' then '"' || workspace_id || '"'
        else workspace_id end as workspace_id_label,
    case when origin is null then '(null)' when origin = '' then '(empty)'
        when origin in ('(null)', '(empty)', '(other)') or origin like '"%"' then '"' || origin || '"'
        else origin end as origin_label,
    case when router is null then '(null)' when router = '' then '(empty)'
        when router in ('(null)', '(empty)', '(other)') or router like '"%"' then '"' || router || '"'
        else router end as router_label
from generations;
