{#-
  How many consultations did we get each day, on which channel, and how did they go? One row
  per Korea day (the day the room was opened) and channel.
-#}
with rooms as (

    select * from {{ ref('room_response_times') }}

),

ratings as (

    select room_id, vote_score from {{ ref('stg_happytalk__chat_rooms') }}

)

select
    rooms.opened_date_kst as consultation_date_kst,
    rooms.out_api,
    rooms.channel_label,
    rooms.channel_label_ko,
    count(*) as rooms,
    sum(case when rooms.status = '2' then 1 else 0 end) as done_rooms,
    sum(case when rooms.is_open then 1 else 0 end) as open_rooms,
    sum(case when rooms.status = '3' then 1 else 0 end) as deleted_rooms,
    sum(case when rooms.status = '4' then 1 else 0 end) as chatbot_ended_rooms,
    count(rooms.first_response_seconds) as answered_rooms,
    round(cast(avg(rooms.first_response_seconds) as {{ dbt.type_numeric() }}), 1)
        as avg_first_response_seconds,
    round(
        cast({{ happytalk_median('rooms.first_response_seconds') }} as {{ dbt.type_numeric() }}),
        1
    ) as median_first_response_seconds,
    count(ratings.vote_score) as rated_rooms,
    round(cast(avg(ratings.vote_score) as {{ dbt.type_numeric() }}), 2) as avg_vote_score
from rooms
inner join ratings
    on rooms.room_id = ratings.room_id
group by
    rooms.opened_date_kst,
    rooms.out_api,
    rooms.channel_label,
    rooms.channel_label_ko
