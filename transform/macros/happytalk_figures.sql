{#-
  happytalk_consultation_figures(group_by): the figures of the consultation marts, from the rooms
  of room_response_times grouped by `group_by` (a list of its columns): counts, the answer rate,
  medians and 90th percentiles, ratings. Every figure is computed from the rooms of the group,
  so a week's median is the median of the week's rooms, never a median of daily medians.
  Every room is in exactly one outcome column: rooms = answered + closed unanswered + open
  unanswered + chatbot only + deleted; consultations are the first three.
-#}
{% macro happytalk_consultation_figures(group_by) -%}
{%- set answered = "case when is_answered then " -%}
{%- set figures = [
    ('first_response_seconds', answered ~ "first_response_seconds end"),
    ('first_response_business_seconds', answered ~ "first_response_business_seconds end"),
    ('handling_seconds', answered ~ "handling_seconds end"),
    ('handling_business_seconds', answered ~ "handling_business_seconds end"),
] -%}
select
    {%- for column in group_by %}
    {{ column }},
    {%- endfor %}
    count(*) as rooms,
    cast(sum(case when is_consultation then 1 else 0 end) as {{ happytalk_type_bigint() }}) as consultations,
    cast(sum(case when outcome = 'answered' then 1 else 0 end) as {{ happytalk_type_bigint() }}) as answered_consultations,
    cast(sum(case when outcome = 'closed unanswered' then 1 else 0 end) as {{ happytalk_type_bigint() }}) as closed_unanswered_consultations,
    cast(sum(case when outcome = 'open unanswered' then 1 else 0 end) as {{ happytalk_type_bigint() }}) as open_unanswered_consultations,
    cast(sum(case when outcome = 'chatbot only' then 1 else 0 end) as {{ happytalk_type_bigint() }}) as chatbot_only_rooms,
    cast(sum(case when outcome = 'deleted' then 1 else 0 end) as {{ happytalk_type_bigint() }}) as deleted_rooms,
    cast(sum(case when is_consultation and is_open then 1 else 0 end) as {{ happytalk_type_bigint() }}) as open_consultations,
    round(
        cast(sum(case when is_answered then 1 else 0 end) as {{ dbt.type_numeric() }})
        / nullif(sum(case when is_consultation then 1 else 0 end), 0),
        4
    ) as answer_rate,
    {%- for name, expression in figures %}
    round(cast({{ happytalk_percentile(expression, 0.5) }} as {{ dbt.type_numeric() }}), 1) as median_{{ name }},
    round(cast({{ happytalk_percentile(expression, 0.9) }} as {{ dbt.type_numeric() }}), 1) as p90_{{ name }},
    {%- endfor %}
    cast(sum(case when is_answered and interval_problem is not null then 1 else 0 end) as {{ happytalk_type_bigint() }})
        as answered_with_interval_problem,
    cast(sum(case when is_consultation and rating is not null then 1 else 0 end) as {{ happytalk_type_bigint() }}) as rated_consultations,
    round(cast(avg(case when is_consultation then rating end) as {{ dbt.type_numeric() }}), 2) as avg_rating,
    cast(sum(case when is_consultation and is_low_rating then 1 else 0 end) as {{ happytalk_type_bigint() }}) as low_rated_consultations,
    cast(sum(case when is_consultation and is_rating_out_of_scale then 1 else 0 end) as {{ happytalk_type_bigint() }})
        as out_of_scale_ratings
from {{ ref('room_response_times') }}
{%- if group_by %}
group by
    {%- for column in group_by %}
    {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endif %}
{%- endmacro %}
