{#-
  One row per message of each account (its latest copy: the tap re-sends a room's messages with
  the room). Keys are unique within an account (source_relation), not across accounts.

  Incremental (macros/happytalk_incremental.sql): a run rebuilds every message of each room with
  a message sent within var('happytalk_lookback_days') of the latest built, so that a room's
  message_number is counted over all its messages.
-#}
{{ config(
    materialized='incremental',
    unique_key=['source_relation', 'message_id'],
    incremental_strategy=happytalk_incremental_strategy(),
    tmp_relation_type=happytalk_tmp_relation_type(),
    on_schema_change='fail',
) }}

with loaded as (
    {%- for account, raw in happytalk_source_relations('chat_messages') %}
    {%- set columns = happytalk_columns(raw) %}

    select
        {{ happytalk_source_relation_literal(account) }} as source_relation,
        {{ happytalk_text('id') }} as message_id,
        {{ happytalk_text('room_id') }} as room_id,
        {{ happytalk_text('from_id') }} as from_id,
        {{ happytalk_text('to_id') }} as to_id,
        {{ happytalk_text('type') }} as type,
        {{ happytalk_text('user_type') }} as user_type,
        {{ happytalk_text('contents_type') }} as contents_type,
        {{ happytalk_raw_text('contents') }} as contents,
        {{ happytalk_utc('send_date', columns) }} as sent_at_utc,
        {{ happytalk_utc('read_date', columns) }} as read_at_utc,
        row_number() over (
            partition by id order by {{ happytalk_load_order(columns) }}
        ) as copy_rank,
        count(*) over (partition by id) as copies_loaded
    from {{ raw }}
    where {{ happytalk_not_deleted(columns) }}
    {%- if is_incremental() %}
        and {{ happytalk_text('room_id') }} in (
            select {{ happytalk_text('room_id') }}
            from {{ raw }}
            where {{ happytalk_within_lookback(happytalk_utc('send_date', columns), 'sent_at_utc', account) }}
        )
    {%- endif %}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

latest as (

    select * from loaded
    where copy_rank = 1

)

select
    source_relation,
    message_id,
    room_id,
    -- The conversation's order: by send time, then by id as a number (ids are auto-increment
    -- numbers as text: shorter is smaller).
    row_number() over (
        partition by source_relation, room_id order by sent_at_utc, {{ dbt.length('message_id') }}, message_id
    ) as message_number,
    type,
    {{ happytalk_label('type', 'message_type') }} as type_label,
    {{ happytalk_label('type', 'message_type', 'ko') }} as type_label_ko,
    user_type,
    {{ happytalk_label('user_type', 'user_type') }} as user_type_label,
    {{ happytalk_label('user_type', 'user_type', 'ko') }} as user_type_label_ko,
    from_id,
    to_id,
    contents_type,
    {{ happytalk_label('contents_type', 'contents_type') }} as contents_type_label,
    {{ happytalk_label('contents_type', 'contents_type', 'ko') }} as contents_type_label_ko,
    contents,
    sent_at_utc,
    {{ happytalk_local('sent_at_utc') }} as sent_at_kst,
    read_at_utc,
    {{ happytalk_local('read_at_utc') }} as read_at_kst,
    copies_loaded
from latest
