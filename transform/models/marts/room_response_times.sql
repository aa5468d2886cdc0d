{#-
  How long did the customer wait for an agent, and how long did the agent then take? One row per
  room. First response: the first agent message (type C, user_type H) after the customer's first
  message (type C, user_type C), in conversation order; bot messages (user_type B) and agent
  memos (type M) never count. Handling: from that first response to the room's closing.
-#}
with rooms as (

    select * from {{ ref('stg_happytalk__chat_rooms') }}

),

said as (

    -- The conversation proper: messages, not memos; in the room's order.
    select room_id, message_number, user_type, sent_at_utc
    from {{ ref('stg_happytalk__chat_messages') }}
    where type = 'C'

),

first_question as (

    select room_id, min(message_number) as message_number
    from said
    where user_type = 'C'
    group by room_id

),

first_answer as (

    select said.room_id, min(said.message_number) as message_number
    from said
    inner join first_question
        on said.room_id = first_question.room_id
        and said.message_number > first_question.message_number
    where said.user_type = 'H'
    group by said.room_id

),

times as (

    select
        first_question.room_id,
        question.sent_at_utc as first_customer_message_at_utc,
        answer.sent_at_utc as first_response_at_utc
    from first_question
    inner join said as question
        on first_question.room_id = question.room_id
        and first_question.message_number = question.message_number
    left join first_answer
        on first_question.room_id = first_answer.room_id
    left join said as answer
        on first_answer.room_id = answer.room_id
        and first_answer.message_number = answer.message_number

)

select
    rooms.room_id,
    rooms.opened_date_kst,
    rooms.opened_at_kst,
    rooms.opened_at_utc,
    rooms.closed_at_kst,
    rooms.closed_at_utc,
    rooms.status,
    rooms.status_label,
    rooms.status_label_ko,
    rooms.is_open,
    rooms.out_api,
    rooms.channel_label,
    rooms.channel_label_ko,
    rooms.agent_name,
    rooms.agent_nickname,
    rooms.top_category,
    rooms.middle_category,
    times.first_customer_message_at_utc,
    {{ happytalk_local('times.first_customer_message_at_utc') }} as first_customer_message_at_kst,
    times.first_response_at_utc,
    {{ happytalk_local('times.first_response_at_utc') }} as first_response_at_kst,
    cast(
        {{ dbt.datediff('times.first_customer_message_at_utc', 'times.first_response_at_utc', 'second') }}
        as {{ dbt.type_bigint() }}
    ) as first_response_seconds,
    cast(
        {{ dbt.datediff('times.first_response_at_utc', 'rooms.closed_at_utc', 'second') }}
        as {{ dbt.type_bigint() }}
    ) as handling_seconds,
    cast(
        {{ dbt.datediff('rooms.opened_at_utc', 'rooms.closed_at_utc', 'second') }}
        as {{ dbt.type_bigint() }}
    ) as duration_seconds
from rooms
left join times
    on rooms.room_id = times.room_id
