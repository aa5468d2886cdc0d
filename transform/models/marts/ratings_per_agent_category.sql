{#-
  How do customers rate each agent, category by category? One row per agent (the room's last
  counselor_name, HappyTalk's login of the agent who had it) and consultation category (top and
  middle), over the consultations the agent had. Ratings outside var('happytalk_rating_scale')
  are counted apart and left out of the average.
-#}
{%- set scale = var('happytalk_rating_scale') -%}

with rooms as (

    select * from {{ ref('room_response_times') }}
    where agent_name is not null
        and is_consultation

)

select
    source_relation,
    agent_name,
    max(agent_nickname) as agent_nickname,
    top_category_id,
    top_category,
    middle_category_id,
    middle_category,
    count(*) as consultations,
    sum(case when is_answered then 1 else 0 end) as answered_consultations,
    count(rating) as rated_consultations,
    round(cast(avg(rating) as {{ dbt.type_numeric() }}), 2) as avg_rating,
    {%- for score in range(scale[1], scale[0] - 1, -1) %}
    sum(case when rating = {{ score }} then 1 else 0 end) as score_{{ score }}_consultations,
    {%- endfor %}
    sum(case when is_low_rating then 1 else 0 end) as low_rated_consultations,
    sum(case when is_rating_out_of_scale then 1 else 0 end) as out_of_scale_ratings,
    count(case when vote_comment is not null then 1 end) as commented_consultations
from rooms
group by
    source_relation,
    agent_name,
    top_category_id,
    top_category,
    middle_category_id,
    middle_category
