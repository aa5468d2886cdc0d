{#-
  What a staging model needs to know about the table a loader made, so that the same SQL
  reads target-postgres' tables and target-jsonl's files alike:

  happytalk_columns(relation): the relation's columns, name -> lower-case data type, looked
  up when the model runs (an empty dict while dbt only parses). A missing table is an error.
-#}
{% macro happytalk_columns(relation) %}
  {%- set found = {} -%}
  {%- if execute -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
      {%- do found.update({column.name | lower: column.data_type | lower}) -%}
    {%- endfor -%}
    {%- if not found -%}
      {{ exceptions.raise_compiler_error("HappyTalk source " ~ relation ~ " has no columns: was it loaded?") }}
    {%- endif -%}
  {%- endif -%}
  {{ return(found) }}
{% endmacro %}


{#- happytalk_text(column): the text, or null for an empty or blank string. -#}
{% macro happytalk_text(column) -%}
  nullif(trim(cast({{ column }} as {{ dbt.type_string() }})), '')
{%- endmacro %}


{#- happytalk_raw_text(column): the text byte for byte, or null for an empty string. -#}
{% macro happytalk_raw_text(column) -%}
  nullif(cast({{ column }} as {{ dbt.type_string() }}), '')
{%- endmacro %}


{#-
  happytalk_utc(column, columns): the instant as a `timestamp` (without time zone) in UTC,
  whatever the loader stored:
  - a timestamp with time zone (DuckDB reading JSONL, a loader keeping the offset): converted;
  - a timestamp without time zone: taken as UTC, which is what target-postgres stores;
  - text (RFC 3339 with its offset, as the tap writes it): parsed with its offset.
  `columns` is happytalk_columns() of the relation.
-#}
{% macro happytalk_utc(column, columns) -%}
  {%- set data_type = columns.get(column | lower, '') -%}
  {%- if 'with time zone' in data_type or data_type == 'timestamptz' -%}
    ({{ column }} at time zone 'UTC')
  {%- elif data_type.startswith('timestamp') or data_type == 'datetime' -%}
    {{ column }}
  {%- else -%}
    (cast({{ happytalk_text(column) }} as {{ happytalk_timestamptz() }}) at time zone 'UTC')
  {%- endif -%}
{%- endmacro %}


{#- happytalk_local(utc): a UTC `timestamp` as wall-clock time in var('happytalk_timezone'). -#}
{% macro happytalk_local(utc) -%}
  (({{ utc }}) at time zone 'UTC') at time zone '{{ var("happytalk_timezone") }}'
{%- endmacro %}


{% macro happytalk_timestamptz() -%}
  {{ return(adapter.dispatch('happytalk_timestamptz')()) }}
{%- endmacro %}

{% macro default__happytalk_timestamptz() -%}
  timestamp with time zone
{%- endmacro %}


{#-
  happytalk_load_order(columns): the ORDER BY items that put a key's copies newest first, from
  the columns the loader added: the file and line of a JSONL record (a later line was appended
  later), or target-postgres' `_sdc_*` (which merges on the key anyway).
-#}
{% macro happytalk_load_order(columns) -%}
  {%- set items = [] -%}
  {%- for name in ['_sdc_extracted_at', '_sdc_batched_at', '_sdc_sequence', '_source_file', '_source_line'] -%}
    {%- if name in columns -%}
      {%- do items.append(name ~ ' desc nulls last') -%}
    {%- endif -%}
  {%- endfor -%}
  {{ items | join(', ') if items else '1' }}
{%- endmacro %}


{#- happytalk_not_deleted(columns): a condition that drops rows a target marked deleted. -#}
{% macro happytalk_not_deleted(columns) -%}
  {{ '_sdc_deleted_at is null' if '_sdc_deleted_at' in columns else '1 = 1' }}
{%- endmacro %}


{#- happytalk_tags_text(column, columns): the tags as one string, `#a, #b`; null when none. -#}
{% macro happytalk_tags_text(column, columns) -%}
  {%- set data_type = columns.get(column | lower, '') -%}
  {%- if 'json' in data_type -%}
    {{ adapter.dispatch('happytalk_json_tags_text')(column) }}
  {%- else -%}
    nullif(array_to_string({{ column }}, ', '), '')
  {%- endif -%}
{%- endmacro %}

{% macro default__happytalk_json_tags_text(column) -%}
  (select nullif(string_agg(tag, ', '), '') from jsonb_array_elements_text(cast({{ column }} as jsonb)) as tags(tag))
{%- endmacro %}

{% macro duckdb__happytalk_json_tags_text(column) -%}
  nullif(array_to_string(cast(json_extract_string({{ column }}, '$[*]') as varchar[]), ', '), '')
{%- endmacro %}


{#- happytalk_integer(column): the text as an integer; null when it is not one. -#}
{% macro happytalk_integer(column) -%}
  {{ return(adapter.dispatch('happytalk_integer')(column)) }}
{%- endmacro %}

{% macro default__happytalk_integer(column) -%}
  case when trim({{ column }}) ~ '^[+-]?[0-9]{1,9}$' then cast(trim({{ column }}) as {{ dbt.type_int() }}) end
{%- endmacro %}

{% macro duckdb__happytalk_integer(column) -%}
  try_cast(trim({{ column }}) as {{ dbt.type_int() }})
{%- endmacro %}
