{#-
  When do customers write? One row per day and hour (in var('happytalk_reporting_timezone'))
  with at least one customer message (type C, user_type C) in any room, chatbot-only and
  deleted rooms included: it is the demand, whoever answered it.
-#}
{%- set reporting_zone = var('happytalk_reporting_timezone') -%}

with customer_messages as (

    select
        source_relation,
        {{ happytalk_local('sent_at_utc', reporting_zone) }} as sent_at_local
    from {{ ref('stg_happytalk__chat_messages') }}
    where type = 'C'
        and user_type = 'C'

),

placed as (

    select
        source_relation,
        cast(sent_at_local as date) as sent_date,
        {{ happytalk_date_part('hour', 'sent_at_local') }} as sent_hour
    from customer_messages

)

select
    source_relation,
    sent_date,
    {{ happytalk_date_part('isodow', 'sent_date') }} as sent_iso_weekday,
    sent_hour,
    '{{ reporting_zone }}' as reporting_timezone,
    count(*) as customer_messages
from placed
group by
    source_relation,
    sent_date,
    sent_hour
