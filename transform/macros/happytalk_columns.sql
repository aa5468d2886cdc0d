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
  happytalk_local(utc, zone): a UTC `timestamp` as the wall-clock time in `zone` (default
  var('happytalk_timezone'), HappyTalk's clock), whatever the session's time zone.
-#}
{% macro happytalk_local(utc, zone=none) -%}
  {{ return(adapter.dispatch('happytalk_local')(utc, zone or var('happytalk_timezone'))) }}
{%- endmacro %}

{% macro default__happytalk_local(utc, zone) -%}
  {{ happytalk_unsupported('happytalk_local') }}
{%- endmacro %}

{#- `timestamp at time zone 'UTC'`: that instant; `instant at time zone zone`: its wall clock. -#}
{% macro postgres__happytalk_local(utc, zone) -%}
  (({{ utc }}) at time zone 'UTC') at time zone '{{ zone }}'
{%- endmacro %}

{% macro duckdb__happytalk_local(utc, zone) -%}
  (({{ utc }}) at time zone 'UTC') at time zone '{{ zone }}'
{%- endmacro %}


{#-
  happytalk_utc_of_local(local, zone): the wall-clock `timestamp` `local` in `zone` as a UTC
  `timestamp` (the inverse of happytalk_local), whatever the session's time zone.
-#}
{% macro happytalk_utc_of_local(local, zone) -%}
  {{ return(adapter.dispatch('happytalk_utc_of_local')(local, zone)) }}
{%- endmacro %}

{% macro default__happytalk_utc_of_local(local, zone) -%}
  {{ happytalk_unsupported('happytalk_utc_of_local') }}
{%- endmacro %}

{#- `timestamp at time zone zone`: the instant that wall clock shows there; then its UTC clock. -#}
{% macro postgres__happytalk_utc_of_local(local, zone) -%}
  (({{ local }}) at time zone '{{ zone }}') at time zone 'UTC'
{%- endmacro %}

{% macro duckdb__happytalk_utc_of_local(local, zone) -%}
  (({{ local }}) at time zone '{{ zone }}') at time zone 'UTC'
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

{#- Not try_cast: DuckDB's rounds '4.5' to 5, which would turn a rating out of scale into one. -#}
{% macro duckdb__happytalk_integer(column) -%}
  case when regexp_matches(trim({{ column }}), '^[+-]?[0-9]{1,9}$') then cast(trim({{ column }}) as {{ dbt.type_int() }}) end
{%- endmacro %}


{#- happytalk_median(expression): the median (an aggregate), interpolated between the middle two. -#}
{% macro happytalk_median(expression) -%}
  {{ return(happytalk_percentile(expression, 0.5)) }}
{%- endmacro %}


{#-
  happytalk_percentile(expression, fraction): the continuous percentile (an aggregate): 0.5 the
  median, 0.9 the value nine in ten are at or under, interpolated between neighbours.
-#}
{% macro happytalk_percentile(expression, fraction) -%}
  {{ return(adapter.dispatch('happytalk_percentile')(expression, fraction)) }}
{%- endmacro %}

{% macro default__happytalk_percentile(expression, fraction) -%}
  {{ happytalk_unsupported('happytalk_percentile') }}
{%- endmacro %}

{% macro postgres__happytalk_percentile(expression, fraction) -%}
  percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__happytalk_percentile(expression, fraction) -%}
  percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}


{#-
  happytalk_date_part(part, expression): a field of a date or timestamp as a number: `year`,
  `hour`, `isodow` (the ISO weekday, 1 Monday to 7 Sunday).
-#}
{% macro happytalk_date_part(part, expression) -%}
  {{ return(adapter.dispatch('happytalk_date_part')(part, expression)) }}
{%- endmacro %}

{#- Weekday numbering differs between databases (0 or 1 for Sunday, or Monday): no default. -#}
{% macro default__happytalk_date_part(part, expression) -%}
  {{ happytalk_unsupported('happytalk_date_part') }}
{%- endmacro %}

{#- As a `timestamp`: a date would otherwise become an instant in the session's time zone. -#}
{% macro postgres__happytalk_date_part(part, expression) -%}
  cast(date_part('{{ part }}', cast({{ expression }} as timestamp)) as {{ dbt.type_int() }})
{%- endmacro %}

{% macro duckdb__happytalk_date_part(part, expression) -%}
  cast(date_part('{{ part }}', {{ expression }}) as {{ dbt.type_int() }})
{%- endmacro %}
