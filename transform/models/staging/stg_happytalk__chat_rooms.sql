{#-
  One row per consultation room of each account: its latest copy. A room that was delivered
  closed beats any copy of it delivered open (HappyTalk does not reopen a room); among copies
  alike, the one delivered last (the last line in JSONL; `_sdc_extracted_at` in PostgreSQL) wins.
  Keys are unique within an account (source_relation).

  Incremental (macros/happytalk_incremental.sql): a run rebuilds the rooms opened within
  var('happytalk_lookback_days') of the latest built, from all their copies.
-#}
{{ config(
    materialized='incremental',
    unique_key=['source_relation', 'room_id'],
    incremental_strategy=happytalk_incremental_strategy(),
    tmp_relation_type=happytalk_tmp_relation_type(),
    on_schema_change='fail',
) }}

with loaded as (
    {%- for account, raw in happytalk_source_relations('chat_rooms') %}
    {%- set columns = happytalk_columns(raw) %}

    select
        {{ happytalk_source_relation_literal(account) }} as source_relation,
        {{ happytalk_text('id') }} as room_id,
        {{ happytalk_raw_text('title') }} as title,
        {{ happytalk_text('counselor_name') }} as agent_name,
        {{ happytalk_text('counselor_nickname') }} as agent_nickname,
        {{ happytalk_text('customer_uuid') }} as customer_uuid,
        {{ happytalk_text('users_id') }} as customer_id,
        {{ happytalk_text('category_id') }} as top_category_id,
        {{ happytalk_text('division_id') }} as middle_category_id,
        {{ happytalk_text('cate_name1') }} as top_category,
        {{ happytalk_text('cate_name2') }} as middle_category,
        {{ happytalk_text('etc_assign') }} as sub_category,
        {{ happytalk_utc('reg_date', columns) }} as opened_at_utc,
        {{ happytalk_utc('complate_date', columns) }} as closed_at_utc,
        {{ happytalk_text('out_api') }} as out_api,
        {{ happytalk_text('status') }} as status,
        {{ happytalk_text('order_number') }} as order_number,
        {{ happytalk_text('product_number') }} as product_number,
        {{ happytalk_text('parcel_number') }} as parcel_number,
        {{ happytalk_text('parcel_companycode') }} as parcel_companycode,
        {{ happytalk_text('app_ver') }} as app_ver,
        {{ happytalk_text('phone_os') }} as phone_os,
        {{ happytalk_text('phone_model') }} as phone_model,
        {{ happytalk_text('phone_osver') }} as phone_osver,
        {{ happytalk_text('phone_telecomm') }} as phone_telecomm,
        {{ happytalk_text('app_hash') }} as app_hash,
        {%- for n in range(1, 11) %}
        {{ happytalk_raw_text('parameter' ~ n) }} as parameter{{ n }},
        {%- endfor %}
        {{ happytalk_raw_text('last_message') }} as last_message,
        -- Only text: accounts loaded differently keep their tags as an array, JSON or text,
        -- which would not union (README, "Several HappyTalk accounts"). Joined into one
        -- string by `tags` below (on Snowflake only after deduplication: a lateral FLATTEN).
        {{ happytalk_tags_text('tags', columns) }} as tags_loaded,
        {{ happytalk_raw_text('user_parameter') }} as user_parameter,
        {{ happytalk_integer(happytalk_text('vote_score')) }} as vote_score,
        {{ happytalk_text('vote_score') }} as vote_score_text,
        {{ happytalk_raw_text('vote_comment') }} as vote_comment,
        row_number() over (
            partition by id
            order by
                case when {{ happytalk_utc('complate_date', columns) }} is null then 1 else 0 end,
                {{ happytalk_load_order(columns) }}
        ) as copy_rank,
        count(*) over (partition by id) as copies_loaded
    from {{ raw }}
    where {{ happytalk_not_deleted(columns) }}
    {%- if is_incremental() %}
        -- Every copy of a room has its opening time: the room is rebuilt from all of them.
        and {{ happytalk_within_lookback(happytalk_utc('reg_date', columns), 'opened_at_utc', account) }}
    {%- endif %}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

latest as (

    select * from loaded
    where copy_rank = 1

),

tags as (

    {{ happytalk_tags_by_key('latest', ['source_relation', 'room_id']) }}

)

select
    latest.source_relation,
    latest.room_id,
    title,
    status,
    {{ happytalk_label('status', 'room_status') }} as status_label,
    {{ happytalk_label('status', 'room_status', 'ko') }} as status_label_ko,
    -- Open unless closed (2 done, 3 deleted, 4 chatbot ended), as the tap decides which rooms
    -- to read again (tap_happytalk/chats.py, CLOSED_STATUSES): a status HappyTalk does not
    -- document counts as open (so would none, which the not_null test on status refuses). The
    -- marts count open rooms by this column alone.
    (status is null or status not in ('2', '3', '4')) as is_open,
    out_api,
    {{ happytalk_label('out_api', 'channel') }} as channel_label,
    {{ happytalk_label('out_api', 'channel', 'ko') }} as channel_label_ko,
    opened_at_utc,
    {{ happytalk_local('opened_at_utc') }} as opened_at_kst,
    cast({{ happytalk_local('opened_at_utc') }} as date) as opened_date_kst,
    closed_at_utc,
    {{ happytalk_local('closed_at_utc') }} as closed_at_kst,
    agent_name,
    agent_nickname,
    customer_uuid,
    customer_id,
    top_category_id,
    middle_category_id,
    top_category,
    middle_category,
    sub_category,
    vote_score,
    vote_score_text,
    vote_comment,
    vote_score is not null as is_rated,
    order_number,
    product_number,
    parcel_number,
    parcel_companycode,
    phone_os,
    {{ happytalk_label('phone_os', 'phone_os') }} as phone_os_label,
    {{ happytalk_label('phone_os', 'phone_os', 'ko') }} as phone_os_label_ko,
    phone_model,
    phone_osver,
    phone_telecomm,
    app_ver,
    app_hash,
    {%- for n in range(1, 11) %}
    parameter{{ n }},
    {%- endfor %}
    user_parameter,
    tags.tags_text,
    last_message,
    copies_loaded
from latest
left join tags
    on latest.source_relation = tags.source_relation
    and latest.room_id = tags.room_id
