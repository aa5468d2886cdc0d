{#-
  The seeds' `schema` config verbatim (happytalk_brand_a, happytalk_brand_b): the raw schemas
  of two HappyTalk accounts, as a loader names them, which happytalk_union_schemas lists. The
  models go to the target's schema as usual.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
  {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
