{#-
  Business time is only known inside the calendar, which spans the holiday seed's years: a room
  opened, answered or closed outside them would get no business seconds (null) without a word.
  Returns those rooms; the fix is `make holidays HOLIDAY_YEARS="FIRST LAST"`.
-#}
{%- set zone = var('happytalk_business_timezone') -%}

with span as (

    select min(calendar_date) as first_day, max(calendar_date) as last_day
    from {{ ref('int_happytalk__business_calendar') }}

),

instants as (

    select source_relation, room_id, opened_at_utc as at_utc from {{ ref('room_response_times') }}
    union all
    select source_relation, room_id, first_response_at_utc from {{ ref('room_response_times') }}
    union all
    select source_relation, room_id, closed_at_utc from {{ ref('room_response_times') }}

)

select instants.source_relation, instants.room_id, instants.at_utc
from instants
cross join span
where instants.at_utc is not null
    and (
        cast({{ happytalk_local('instants.at_utc', zone) }} as date) < span.first_day
        or cast({{ happytalk_local('instants.at_utc', zone) }} as date) > span.last_day
    )
