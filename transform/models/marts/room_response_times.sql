{#-
  Every room, what became of it and how long each step took, in clock and in business time.
  One row per room. The definitions are DECISIONLOG.md's: first response, handling, duration,
  outcome (answered, closed unanswered, open unanswered, chatbot only, deleted), rating.

  Incremental (macros/happytalk_incremental.sql): a run rebuilds the rooms opened within
  var('happytalk_lookback_days') of the latest built for their account, from staging.
-#}
{{ config(
    materialized='incremental',
    unique_key=['source_relation', 'room_id'],
    incremental_strategy=happytalk_incremental_strategy(),
    tmp_relation_type=happytalk_tmp_relation_type(),
    on_schema_change='fail',
) }}
{%- set reporting_zone = var('happytalk_reporting_timezone') -%}
{%- set scale = var('happytalk_rating_scale') -%}

with
{%- if is_incremental() %}

built as (

    {{ happytalk_lookback_starts('opened_at_utc') }}

),
{%- endif %}

rooms as (

    select staged.*
    from {{ ref('stg_happytalk__chat_rooms') }} as staged
    {%- if is_incremental() %}
    left join built
        on staged.source_relation = built.source_relation
    where built.rebuild_from is null or staged.opened_at_utc >= built.rebuild_from
    {%- endif %}

),

said as (

    -- The conversation proper: messages, not memos; in the room's order.
    select messages.source_relation, messages.room_id, messages.message_number, messages.user_type,
        messages.sent_at_utc
    from {{ ref('stg_happytalk__chat_messages') }} as messages
    {%- if is_incremental() %}
    -- Only the rooms this run rebuilds.
    inner join rooms
        on messages.source_relation = rooms.source_relation
        and messages.room_id = rooms.room_id
    {%- endif %}
    where messages.type = 'C'

),

first_question as (

    select source_relation, room_id, min(message_number) as message_number
    from said
    where user_type = 'C'
    group by source_relation, room_id

),

first_answer as (

    select said.source_relation, said.room_id, min(said.message_number) as message_number
    from said
    inner join first_question
        on said.source_relation = first_question.source_relation
        and said.room_id = first_question.room_id
        and said.message_number > first_question.message_number
    where said.user_type = 'H'
    group by said.source_relation, said.room_id

),

times as (

    select
        first_question.source_relation,
        first_question.room_id,
        question.sent_at_utc as first_customer_message_at_utc,
        answer.sent_at_utc as first_response_at_utc
    from first_question
    inner join said as question
        on first_question.source_relation = question.source_relation
        and first_question.room_id = question.room_id
        and first_question.message_number = question.message_number
    left join first_answer
        on first_question.source_relation = first_answer.source_relation
        and first_question.room_id = first_answer.room_id
    left join said as answer
        on first_answer.source_relation = answer.source_relation
        and first_answer.room_id = answer.room_id
        and first_answer.message_number = answer.message_number

),

joined as (

    select
        rooms.*,
        times.first_customer_message_at_utc,
        times.first_response_at_utc,
        -- Deleted and chatbot-ended rooms are no consultation, whatever else happened in them.
        case
            when rooms.status = '3' then 'deleted'
            when rooms.status = '4' then 'chatbot only'
            when times.first_response_at_utc is not null then 'answered'
            when rooms.is_open then 'open unanswered'
            else 'closed unanswered'
        end as outcome,
        -- A closing before the step it ends: HappyTalk's clocks disagree; the interval is
        -- unknown (null), never negative and never clamped to 0.
        case
            when rooms.closed_at_utc < rooms.opened_at_utc then 'closed before opened'
            when rooms.closed_at_utc < times.first_response_at_utc then 'closed before first response'
        end as interval_problem,
        case
            when rooms.vote_score between {{ scale[0] }} and {{ scale[1] }} then rooms.vote_score
        end as rating
    from rooms
    left join times
        on rooms.source_relation = times.source_relation
        and rooms.room_id = times.room_id

),

clocked as (

    -- Each instant's day of the business calendar: business seconds are differences of
    -- happytalk_business_clock at the two ends of an interval (macros/happytalk_business_hours.sql).
    select
        joined.*,
        {{ happytalk_business_seconds('joined.first_customer_message_at_utc', 'joined.first_response_at_utc', 'asked_day', 'answered_day') }}
            as first_response_business_seconds_raw,
        {{ happytalk_business_seconds('joined.first_response_at_utc', 'joined.closed_at_utc', 'answered_day', 'closed_day') }}
            as handling_business_seconds_raw
    from joined
    left join {{ ref('int_happytalk__business_calendar') }} as asked_day
        on asked_day.calendar_date = {{ happytalk_business_day('joined.first_customer_message_at_utc') }}
    left join {{ ref('int_happytalk__business_calendar') }} as answered_day
        on answered_day.calendar_date = {{ happytalk_business_day('joined.first_response_at_utc') }}
    left join {{ ref('int_happytalk__business_calendar') }} as closed_day
        on closed_day.calendar_date = {{ happytalk_business_day('joined.closed_at_utc') }}

)

select
    source_relation,
    room_id,
    outcome,
    outcome in ('answered', 'open unanswered', 'closed unanswered') as is_consultation,
    outcome = 'answered' as is_answered,
    '{{ reporting_zone }}' as reporting_timezone,
    cast({{ happytalk_local('opened_at_utc', reporting_zone) }} as date) as opened_date,
    -- Truncating the wall-clock timestamp (not a date, which PostgreSQL would turn into an
    -- instant in the session's time zone).
    {{ happytalk_week(happytalk_local('opened_at_utc', reporting_zone)) }} as opened_week,
    opened_date_kst,
    opened_at_kst,
    opened_at_utc,
    closed_at_kst,
    closed_at_utc,
    status,
    status_label,
    status_label_ko,
    is_open,
    out_api,
    channel_label,
    channel_label_ko,
    agent_name,
    agent_nickname,
    top_category_id,
    top_category,
    middle_category_id,
    middle_category,
    first_customer_message_at_utc,
    {{ happytalk_local('first_customer_message_at_utc') }} as first_customer_message_at_kst,
    first_response_at_utc,
    {{ happytalk_local('first_response_at_utc') }} as first_response_at_kst,
    cast(
        {{ dbt.datediff('first_customer_message_at_utc', 'first_response_at_utc', 'second') }}
        as {{ happytalk_type_bigint() }}
    ) as first_response_seconds,
    cast(
        first_response_business_seconds_raw
        as {{ happytalk_type_bigint() }}
    ) as first_response_business_seconds,
    case when interval_problem is null then cast(
        {{ dbt.datediff('first_response_at_utc', 'closed_at_utc', 'second') }}
        as {{ happytalk_type_bigint() }}
    ) end as handling_seconds,
    case when interval_problem is null then cast(
        handling_business_seconds_raw
        as {{ happytalk_type_bigint() }}
    ) end as handling_business_seconds,
    case when interval_problem is null or interval_problem <> 'closed before opened' then cast(
        {{ dbt.datediff('opened_at_utc', 'closed_at_utc', 'second') }}
        as {{ happytalk_type_bigint() }}
    ) end as duration_seconds,
    interval_problem,
    vote_score,
    vote_score_text,
    rating,
    vote_score_text is not null and rating is null as is_rating_out_of_scale,
    rating <= {{ var('happytalk_low_rating_at_most') }} as is_low_rating,
    vote_comment
from clocked
