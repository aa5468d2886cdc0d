{#-
  One row per service-history event of each account (its latest copy), times in UTC and Korea
  time, codes decoded. Keys are unique within an account (source_relation).
-#}
with loaded as (
    {%- for account, raw in happytalk_source_relations('service_history') %}
    {%- set columns = happytalk_columns(raw) %}

    select
        {{ happytalk_source_relation_literal(account) }} as source_relation,
        {{ happytalk_text('id') }} as event_id,
        {{ happytalk_text('type') }} as type,
        {{ happytalk_text('kind') }} as kind,
        {{ happytalk_text('request_user') }} as request_user,
        {{ happytalk_raw_text('request_content') }} as request_content,
        {{ happytalk_utc('request_date', columns) }} as requested_at_utc,
        {{ happytalk_text('apply_id') }} as apply_id,
        {{ happytalk_text('apply_content') }} as apply_content,
        {{ happytalk_utc('apply_date', columns) }} as applied_at_utc,
        row_number() over (
            partition by id order by {{ happytalk_load_order(columns) }}
        ) as copy_rank,
        count(*) over (partition by id) as copies_loaded
    from {{ raw }}
    where {{ happytalk_not_deleted(columns) }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

latest as (

    select * from loaded
    where copy_rank = 1

)

select
    source_relation,
    event_id,
    type,
    {{ happytalk_label('type', 'service_type') }} as type_label,
    {{ happytalk_label('type', 'service_type', 'ko') }} as type_label_ko,
    kind,
    {{ happytalk_label('kind', 'service_kind') }} as kind_label,
    {{ happytalk_label('kind', 'service_kind', 'ko') }} as kind_label_ko,
    request_user,
    request_content,
    requested_at_utc,
    {{ happytalk_local('requested_at_utc') }} as requested_at_kst,
    cast({{ happytalk_local('requested_at_utc') }} as date) as requested_date_kst,
    apply_id,
    apply_content,
    case apply_content
        when '로그인' then 'login'
        when '로그아웃' then 'logout'
    end as agent_action,
    applied_at_utc,
    {{ happytalk_local('applied_at_utc') }} as applied_at_kst,
    copies_loaded
from latest
