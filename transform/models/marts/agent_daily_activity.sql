{#-
  When did each agent start and finish work each day? One row per agent (login) and Korea day
  with a login or a logout in the service history.
-#}
with actions as (

    select * from {{ ref('stg_happytalk__service_history') }}
    where agent_action is not null
        and request_user is not null

)

select
    source_relation,
    request_user as agent_login,
    requested_date_kst as activity_date_kst,
    min(case when agent_action = 'login' then requested_at_kst end) as first_login_at_kst,
    max(case when agent_action = 'logout' then requested_at_kst end) as last_logout_at_kst,
    sum(case when agent_action = 'login' then 1 else 0 end) as logins,
    sum(case when agent_action = 'logout' then 1 else 0 end) as logouts,
    min(case when agent_action = 'login' then requested_at_utc end) as first_login_at_utc,
    max(case when agent_action = 'logout' then requested_at_utc end) as last_logout_at_utc
from actions
group by
    source_relation,
    request_user,
    requested_date_kst
