{#-
  What a staging model needs to know about the table a loader made, so that the same SQL
  reads target-postgres' tables and target-jsonl's files alike.

  SQL that not every database speaks (time zones, arrays, JSON, regular expressions, the
  median) goes through adapter.dispatch: a `postgres__` and a `duckdb__` implementation, the
  two warehouses the tests build on; the `default__` one stops the compilation with an error
  naming the adapter (happytalk_unsupported), rather than sending SQL that may run and mean
  something else.
-#}

{#-
  happytalk_unsupported(macro_name): the error of a `default__` implementation: this adapter
  has none.
-#}
{% macro happytalk_unsupported(macro_name) -%}
  {{ exceptions.raise_compiler_error(
      "HappyTalk macro " ~ macro_name ~ " has no implementation for the '" ~ adapter.type()
      ~ "' adapter: the project is written and tested for duckdb and postgres only. Add "
      ~ adapter.type() ~ "__" ~ macro_name ~ " to transform/macros/ to run it there."
  ) }}
{%- endmacro %}


{#-
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
    {{ happytalk_instant_as_utc(column) }}
  {%- elif data_type.startswith('timestamp') or data_type == 'datetime' -%}
    {{ column }}
  {%- else -%}
    {{ happytalk_instant_as_utc('cast(' ~ happytalk_text(column) ~ ' as ' ~ happytalk_timestamptz() ~ ')') }}
  {%- endif -%}
{%- endmacro %}


{#- happytalk_timestamptz(): the type of an instant (a timestamp with its time zone). -#}
{% macro happytalk_timestamptz() -%}
  {{ return(adapter.dispatch('happytalk_timestamptz')()) }}
{%- endmacro %}

{#- The SQL standard's name; PostgreSQL and DuckDB read text with a UTC offset into it. -#}
{% macro default__happytalk_timestamptz() -%}
  timestamp with time zone
{%- endmacro %}


{#-
  happytalk_instant_as_utc(instant): a `timestamp with time zone` as the `timestamp` (without
  time zone) of its UTC wall clock, whatever the session's time zone.
-#}
{% macro happytalk_instant_as_utc(instant) -%}
  {{ return(adapter.dispatch('happytalk_instant_as_utc')(instant)) }}
{%- endmacro %}

{% macro default__happytalk_instant_as_utc(instant) -%}
  {{ happytalk_unsupported('happytalk_instant_as_utc') }}
{%- endmacro %}

{% macro postgres__happytalk_instant_as_utc(instant) -%}
  ({{ instant }} at time zone 'UTC')
{%- endmacro %}

{#- DuckDB's `at time zone` on a timestamptz is its ICU extension's, which dbt-duckdb loads. -#}
{% macro duckdb__happytalk_instant_as_utc(instant) -%}
  ({{ instant }} at time zone 'UTC')
{%- endmacro %}


{#-
  happytalk_local(utc): a UTC `timestamp` as wall-clock time in var('happytalk_timezone'),
  whatever the session's time zone.
-#}
{% macro happytalk_local(utc) -%}
  {{ return(adapter.dispatch('happytalk_local')(utc)) }}
{%- endmacro %}

{% macro default__happytalk_local(utc) -%}
  {{ happytalk_unsupported('happytalk_local') }}
{%- endmacro %}

{#- `timestamp at time zone 'UTC'`: that instant; `instant at time zone zone`: its wall clock. -#}
{% macro postgres__happytalk_local(utc) -%}
  (({{ utc }}) at time zone 'UTC') at time zone '{{ var("happytalk_timezone") }}'
{%- endmacro %}

{% macro duckdb__happytalk_local(utc) -%}
  (({{ utc }}) at time zone 'UTC') at time zone '{{ var("happytalk_timezone") }}'
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
    {{ adapter.dispatch('happytalk_array_tags_text')(column) }}
  {%- endif -%}
{%- endmacro %}

{#- Tags as an array of text: target-postgres' `text[]`, DuckDB's `varchar[]` from the JSONL. -#}
{% macro default__happytalk_array_tags_text(column) -%}
  {{ happytalk_unsupported('happytalk_array_tags_text') }}
{%- endmacro %}

{% macro postgres__happytalk_array_tags_text(column) -%}
  nullif(array_to_string({{ column }}, ', '), '')
{%- endmacro %}

{% macro duckdb__happytalk_array_tags_text(column) -%}
  nullif(array_to_string({{ column }}, ', '), '')
{%- endmacro %}

{#- Tags as a JSON array of strings (a loader that keeps them as json or jsonb). -#}
{% macro default__happytalk_json_tags_text(column) -%}
  {{ happytalk_unsupported('happytalk_json_tags_text') }}
{%- endmacro %}

{% macro postgres__happytalk_json_tags_text(column) -%}
  (select nullif(string_agg(tag, ', '), '') from jsonb_array_elements_text(cast({{ column }} as jsonb)) as tags(tag))
{%- endmacro %}

{% macro duckdb__happytalk_json_tags_text(column) -%}
  nullif(array_to_string(cast(json_extract_string({{ column }}, '$[*]') as varchar[]), ', '), '')
{%- endmacro %}


{#- happytalk_integer(column): the text as an integer; null when it is not one. -#}
{% macro happytalk_integer(column) -%}
  {{ return(adapter.dispatch('happytalk_integer')(column)) }}
{%- endmacro %}

{#- No standard SQL casts text to a number without failing on text that is not one. -#}
{% macro default__happytalk_integer(column) -%}
  {{ happytalk_unsupported('happytalk_integer') }}
{%- endmacro %}

{#- `~` is PostgreSQL's regular-expression match; nine digits always fit an integer. -#}
{% macro postgres__happytalk_integer(column) -%}
  case when trim({{ column }}) ~ '^[+-]?[0-9]{1,9}$' then cast(trim({{ column }}) as {{ dbt.type_int() }}) end
{%- endmacro %}

{% macro duckdb__happytalk_integer(column) -%}
  try_cast(trim({{ column }}) as {{ dbt.type_int() }})
{%- endmacro %}


{#- happytalk_median(expression): the median (an aggregate), interpolated between the middle two. -#}
{% macro happytalk_median(expression) -%}
  {{ return(adapter.dispatch('happytalk_median')(expression)) }}
{%- endmacro %}

{% macro default__happytalk_median(expression) -%}
  {{ happytalk_unsupported('happytalk_median') }}
{%- endmacro %}

{% macro postgres__happytalk_median(expression) -%}
  percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__happytalk_median(expression) -%}
  percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}
