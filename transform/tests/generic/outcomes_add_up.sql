{#-
  Every room is in exactly one outcome: the consultation marts' outcome columns add up to their
  rooms, and consultations are the answered and unanswered ones. Returns the rows that do not.
-#}
{% test outcomes_add_up(model) %}

select *
from {{ model }}
where rooms <> answered_consultations + closed_unanswered_consultations
        + open_unanswered_consultations + chatbot_only_rooms + deleted_rooms
    or consultations <> answered_consultations + closed_unanswered_consultations
        + open_unanswered_consultations

{% endtest %}
