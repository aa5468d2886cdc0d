{#-
  dbt's `relationships` within each HappyTalk account: every non-null `column_name` of `model`
  is a `field` of `to` with the same source_relation (keys are unique per account only).
  Returns the rows that point nowhere.
-#}
{% test relationships_per_account(model, column_name, to, field) %}

select child.source_relation, child.{{ column_name }}
from {{ model }} as child
left join {{ to }} as parent
    on child.source_relation = parent.source_relation
    and child.{{ column_name }} = parent.{{ field }}
where child.{{ column_name }} is not null
    and parent.{{ field }} is null

{% endtest %}
