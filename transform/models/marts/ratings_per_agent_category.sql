{#-
  How do customers rate each agent, category by category? One row per agent and consultation
  category (top and middle), over the rooms an agent took.
-#}
with rooms as (

    select * from {{ ref('stg_happytalk__chat_rooms') }}
    where agent_name is not null

)

select
    agent_name,
    max(agent_nickname) as agent_nickname,
    top_category_id,
    top_category,
    middle_category_id,
    middle_category,
    count(*) as rooms,
    sum(case when status = '2' then 1 else 0 end) as done_rooms,
    count(vote_score) as rated_rooms,
    round(cast(avg(vote_score) as {{ dbt.type_numeric() }}), 2) as avg_vote_score,
    sum(case when vote_score = 5 then 1 else 0 end) as score_5_rooms,
    sum(case when vote_score = 4 then 1 else 0 end) as score_4_rooms,
    sum(case when vote_score = 3 then 1 else 0 end) as score_3_rooms,
    sum(case when vote_score = 2 then 1 else 0 end) as score_2_rooms,
    sum(case when vote_score = 1 then 1 else 0 end) as score_1_rooms,
    sum(case when vote_score <= 2 then 1 else 0 end) as low_score_rooms,
    count(case when vote_comment is not null then 1 end) as commented_rooms
from rooms
group by
    agent_name,
    top_category_id,
    top_category,
    middle_category_id,
    middle_category
