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
--           '(null)' for a null value and '(empty)' for an empty string.
-- Params    none.
create or replace view generation_labels as
select
    *,
    case when model is null then '(null)' when model = '' then '(empty)' else model end as model_label,
    case when provider_name is null then '(null)' when provider_name = '' then '(empty)' else provider_name end as provider_name_label,
    case when data_region is null then '(null)' when data_region = '' then '(empty)' else data_region end as data_region_label,
    coalesce(cast(app_id as varchar), '(null)') as app_id_label,
    case when api_type is null then '(null)' when api_type = '' then '(empty)' else api_type end as api_type_label,
    case when external_user is null then '(null)' when external_user = '' then '(empty)' else external_user end as external_user_label,
    coalesce(cast(is_byok as varchar), '(null)') as is_byok_label,
    case when finish_reason is null then '(null)' when finish_reason = '' then '(empty)' else finish_reason end as finish_reason_label,
    case when service_tier is null then '(null)' when service_tier = '' then '(empty)' else service_tier end as service_tier_label,
    case when workspace_id is null then '(null)' when workspace_id = '' then '(empty)' else workspace_id end as workspace_id_label,
    case when origin is null then '(null)' when origin = '' then '(empty)' else origin end as origin_label,
    case when router is null then '(null)' when router = '' then '(empty)' else router end as router_label
from generations;
