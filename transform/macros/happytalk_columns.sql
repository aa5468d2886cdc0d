{#-
  What a staging model needs to know about the table a loader made, so that the same SQL
  reads target-postgres' tables and target-jsonl's files alike.

  SQL that not every database speaks (time zones, arrays, JSON, regular expressions, the
  median) goes through adapter.dispatch: `postgres__` and `duckdb__` implementations (the two
  warehouses the tests build on), `snowflake__` (built in the tests on the fakesnow emulator)
  and `bigquery__` (compiled, never run: README "BigQuery"); the `default__` one stops the
  compilation with an error naming the adapter (happytalk_unsupported), rather than sending SQL
  that may run and mean something else.
-#}

{#-
  happytalk_unsupported(macro_name): the error of a `default__` implementation: this adapter
  has none.
-#}
{% macro happytalk_unsupported(macro_name) -%}
  {{ exceptions.raise_compiler_error(
      "HappyTalk macro " ~ macro_name ~ " has no implementation for the '" ~ adapter.type()
      ~ "' adapter: the project is written for duckdb, postgres, snowflake and bigquery only. Add "
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
    {#- A loader that keeps each record whole (z3z1ma target-bigquery's default) has no column per field. -#}
    {%- if 'id' not in found -%}
      {{ exceptions.raise_compiler_error("HappyTalk source " ~ relation ~ " has no column `id` (it has " ~ (found.keys() | list | join(', ')) ~ "): load one column per field (z3z1ma target-bigquery: denormalized: true)") }}
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
  - an instant (a timestamp with time zone: DuckDB reading JSONL, a loader keeping the offset;
    Snowflake's TIMESTAMP_TZ and TIMESTAMP_LTZ; BigQuery's TIMESTAMP): converted;
  - a naive timestamp (PostgreSQL's `timestamp without time zone`, Snowflake's TIMESTAMP_NTZ,
    BigQuery's DATETIME): the wall clock of var('happytalk_loader_timezone') (else env
    HAPPYTALK_LOADER_TIMEZONE, else UTC: what target-postgres stores in a UTC session), turned
    into its instant;
  - text (RFC 3339 with its offset, as the tap writes it): parsed with its offset.
  `columns` is happytalk_columns() of the relation. DECISIONLOG.md, "Times the loader wrote".
-#}
{% macro happytalk_utc(column, columns) -%}
  {%- set kind = happytalk_time_kind(columns.get(column | lower, '')) -%}
  {%- set loader_zone = var('happytalk_loader_timezone', env_var('HAPPYTALK_LOADER_TIMEZONE', 'UTC')) -%}
  {%- if kind == 'instant' -%}
    {{ happytalk_instant_as_utc(column) }}
  {%- elif kind == 'naive' and loader_zone | upper in ['UTC', 'ETC/UTC'] -%}
    {{ column }}
  {%- elif kind == 'naive' -%}
    {{ happytalk_utc_of_local(column, loader_zone) }}
  {%- else -%}
    {{ happytalk_instant_as_utc('cast(' ~ happytalk_text(column) ~ ' as ' ~ happytalk_timestamptz() ~ ')') }}
  {%- endif -%}
{%- endmacro %}


{#-
  happytalk_time_kind(data_type): 'instant', 'naive' or 'text': what a column of this type (as
  happytalk_columns reports it, lower case) holds. The names are the warehouses' own; only
  BigQuery calls an instant plain `timestamp` (and a naive one `datetime`).
-#}
{% macro happytalk_time_kind(data_type) -%}
  {%- if adapter.type() == 'bigquery' -%}
    {{ return('instant' if data_type == 'timestamp' else 'naive' if data_type == 'datetime' else 'text') }}
  {%- elif 'with time zone' in data_type or data_type in ['timestamptz', 'timestamp_tz', 'timestamp_ltz'] -%}
    {{ return('instant') }}
  {%- elif data_type.startswith('timestamp') or data_type == 'datetime' -%}
    {{ return('naive') }}
  {%- else -%}
    {{ return('text') }}
  {%- endif -%}
{%- endmacro %}


{#- happytalk_timestamptz(): the type of an instant (a timestamp with its time zone). -#}
{% macro happytalk_timestamptz() -%}
  {{ return(adapter.dispatch('happytalk_timestamptz', 'happytalk')()) }}
{%- endmacro %}

{#- The SQL standard's name; PostgreSQL and DuckDB read text with a UTC offset into it. -#}
{% macro default__happytalk_timestamptz() -%}
  timestamp with time zone
{%- endmacro %}

{% macro snowflake__happytalk_timestamptz() -%}
  timestamp_tz
{%- endmacro %}

{#- BigQuery's TIMESTAMP is an instant; it parses RFC 3339 text with its offset. -#}
{% macro bigquery__happytalk_timestamptz() -%}
  timestamp
{%- endmacro %}


{#-
  happytalk_instant_as_utc(instant): a `timestamp with time zone` as the `timestamp` (without
  time zone) of its UTC wall clock, whatever the session's time zone.
-#}
{% macro happytalk_instant_as_utc(instant) -%}
  {{ return(adapter.dispatch('happytalk_instant_as_utc', 'happytalk')(instant)) }}
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

{#- The two-argument convert_timezone keeps the instant (a TIMESTAMP_TZ in UTC); NTZ drops the zone. -#}
{% macro snowflake__happytalk_instant_as_utc(instant) -%}
  cast(convert_timezone('UTC', {{ instant }}) as timestamp_ntz)
{%- endmacro %}

{#- A TIMESTAMP as the DATETIME of its UTC wall clock. -#}
{% macro bigquery__happytalk_instant_as_utc(instant) -%}
  datetime({{ instant }}, 'UTC')
{%- endmacro %}


{#-
  happytalk_local(utc, zone): a UTC `timestamp` as the wall-clock time in `zone` (default
  var('happytalk_timezone'), HappyTalk's clock), whatever the session's time zone.
-#}
{% macro happytalk_local(utc, zone=none) -%}
  {{ return(adapter.dispatch('happytalk_local', 'happytalk')(utc, zone or var('happytalk_timezone'))) }}
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

{#- The three-argument convert_timezone: a TIMESTAMP_NTZ from one wall clock to another. -#}
{% macro snowflake__happytalk_local(utc, zone) -%}
  convert_timezone('UTC', '{{ zone }}', cast({{ utc }} as timestamp_ntz))
{%- endmacro %}

{#- TIMESTAMP(datetime) reads a DATETIME as UTC; DATETIME(timestamp, zone) is its wall clock there. -#}
{% macro bigquery__happytalk_local(utc, zone) -%}
  datetime(timestamp({{ utc }}), '{{ zone }}')
{%- endmacro %}


{#-
  happytalk_utc_of_local(local, zone): the wall-clock `timestamp` `local` in `zone` as a UTC
  `timestamp` (the inverse of happytalk_local), whatever the session's time zone.
-#}
{% macro happytalk_utc_of_local(local, zone) -%}
  {{ return(adapter.dispatch('happytalk_utc_of_local', 'happytalk')(local, zone)) }}
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

{% macro snowflake__happytalk_utc_of_local(local, zone) -%}
  convert_timezone('{{ zone }}', 'UTC', cast({{ local }} as timestamp_ntz))
{%- endmacro %}

{#- TIMESTAMP(datetime, zone) is the instant that wall clock shows in `zone`. -#}
{% macro bigquery__happytalk_utc_of_local(local, zone) -%}
  datetime(timestamp({{ local }}, '{{ zone }}'), 'UTC')
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


{#-
  happytalk_tags_text(column, columns): the tags as loaded, as text (so that accounts loaded
  differently union). On every warehouse but Snowflake they are already the final string,
  `#a, #b` (null when none): an array column (target-postgres' `text[]`, DuckDB's `varchar[]`,
  BigQuery's ARRAY<STRING>) is joined; JSON (PostgreSQL's json/jsonb, BigQuery's JSON) or text
  holding a JSON array is parsed first. On Snowflake (VARIANT or ARRAY as target-snowflake loads
  arrays, or text) it is the JSON text, which happytalk_tags_by_key turns into the string.
-#}
{% macro happytalk_tags_text(column, columns) -%}
  {%- set data_type = columns.get(column | lower, '') -%}
  {%- set is_array = data_type.endswith('[]') or data_type in ['array', 'text array'] or data_type.startswith('array<') -%}
  {%- if adapter.type() == 'snowflake' or not is_array -%}
    {{ adapter.dispatch('happytalk_json_tags_text', 'happytalk')(column) }}
  {%- else -%}
    {{ adapter.dispatch('happytalk_array_tags_text', 'happytalk')(column) }}
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

{% macro bigquery__happytalk_array_tags_text(column) -%}
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

{#-
  Snowflake: a VARIANT, an ARRAY or text, kept as its JSON text here (to_varchar); the elements
  are joined per room by snowflake__happytalk_tags_by_key, after the copies are deduplicated.
-#}
{% macro snowflake__happytalk_json_tags_text(column) -%}
  nullif(trim(to_varchar({{ column }})), '')
{%- endmacro %}

{#-
  happytalk_tags_by_key(relation, keys): a query of `keys` and `tags_text`, one row per key of
  `relation` (unique there) whose `tags_loaded` (happytalk_tags_text's) is not null, for a left
  join: the final string of the tags. On every warehouse but Snowflake, tags_loaded as it is. On Snowflake, the JSON text is
  parsed and its elements joined in order, in the one form Snowflake's reference documents for
  turning an array into rows beside its row, a lateral join to FLATTEN
  (https://docs.snowflake.com/en/sql-reference/constructs/join-lateral,
  https://docs.snowflake.com/en/sql-reference/functions/flatten), then aggregated with LISTAGG
  ... WITHIN GROUP (ORDER BY the element's INDEX)
  (https://docs.snowflake.com/en/sql-reference/functions/listagg), grouped by the key. No
  correlated subquery in a SELECT list (which Snowflake runs only in forms its planner can
  decorrelate), and no ARRAY_TO_STRING over parsed JSON (which fakesnow, the emulator the suite
  builds on, cannot bind): the SQL tested is the SQL shipped. A key whose tags are null, an empty
  array or empty text yields no row from the inner lateral join, so the left join gives null.
-#}
{% macro happytalk_tags_by_key(relation, keys) -%}
  {{ adapter.dispatch('happytalk_tags_by_key', 'happytalk')(relation, keys) }}
{%- endmacro %}

{% macro default__happytalk_tags_by_key(relation, keys) -%}
  select {% for key in keys %}{{ key }}, {% endfor %}tags_loaded as tags_text
  from {{ relation }}
  where tags_loaded is not null
{%- endmacro %}

{% macro snowflake__happytalk_tags_by_key(relation, keys) -%}
  select
      {% for key in keys %}{{ relation }}.{{ key }}, {% endfor %}
      nullif(listagg(tag.value::string, ', ') within group (order by tag.index), '') as tags_text
  from {{ relation }},
      lateral flatten(input => parse_json({{ relation }}.tags_loaded)) as tag
  group by {% for key in keys %}{{ relation }}.{{ key }}{% if not loop.last %}, {% endif %}{% endfor %}
{%- endmacro %}

{% macro bigquery__happytalk_json_tags_text(column) -%}
  nullif(array_to_string(json_value_array({{ column }}), ', '), '')
{%- endmacro %}


{#- happytalk_integer(column): the text as an integer; null when it is not one. -#}
{% macro happytalk_integer(column) -%}
  {{ return(adapter.dispatch('happytalk_integer', 'happytalk')(column)) }}
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

{#- Not try_to_number, which rounds '4.5' to 5 as DuckDB's try_cast does. -#}
{% macro snowflake__happytalk_integer(column) -%}
  case when regexp_like(trim({{ column }}), '^[+-]?[0-9]{1,9}$') then cast(trim({{ column }}) as {{ dbt.type_int() }}) end
{%- endmacro %}

{% macro bigquery__happytalk_integer(column) -%}
  case when regexp_contains(trim({{ column }}), r'^[+-]?[0-9]{1,9}$') then cast(trim({{ column }}) as {{ dbt.type_int() }}) end
{%- endmacro %}


{#-
  happytalk_type_bigint(): the type of a 64-bit whole number. dbt.type_bigint() is `bigint` on
  BigQuery too, an alias BigQuery's own front end accepts but ZetaSQL (its analyzer, and the
  tools built on it) does not know; INT64 is the type's own name there.
-#}
{% macro happytalk_type_bigint() -%}
  {{ return(adapter.dispatch('happytalk_type_bigint', 'happytalk')()) }}
{%- endmacro %}

{% macro default__happytalk_type_bigint() -%}
  {{ dbt.type_bigint() }}
{%- endmacro %}

{% macro bigquery__happytalk_type_bigint() -%}
  int64
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
  {{ return(adapter.dispatch('happytalk_percentile', 'happytalk')(expression, fraction)) }}
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

{% macro snowflake__happytalk_percentile(expression, fraction) -%}
  percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{#-
  BigQuery's percentile_cont is a window function only, approx_quantiles is approximate, and an
  aggregate may not be unnested inside a grouped query: the group's values as a sorted array,
  and percentile_cont's own interpolation between the two around position f * (n - 1). An
  empty group gives a negative offset, which safe_offset turns into null.
-#}
{% macro bigquery__happytalk_percentile(expression, fraction) -%}
  {%- set values = 'array_agg(' ~ expression ~ ' ignore nulls order by ' ~ expression ~ ')' -%}
  {%- set position = '(' ~ fraction ~ ' * (count(' ~ expression ~ ') - 1))' -%}
  {%- set below = values ~ '[safe_offset(cast(floor(' ~ position ~ ') as int64))]' -%}
  {%- set above = values ~ '[safe_offset(cast(ceil(' ~ position ~ ') as int64))]' -%}
  ({{ below }} + ({{ position }} - floor({{ position }})) * ({{ above }} - {{ below }}))
{%- endmacro %}


{#-
  happytalk_date_part(part, expression): a field of a date or timestamp as a number: `year`,
  `hour`, `isodow` (the ISO weekday, 1 Monday to 7 Sunday).
-#}
{% macro happytalk_date_part(part, expression) -%}
  {{ return(adapter.dispatch('happytalk_date_part', 'happytalk')(part, expression)) }}
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

{#- dayofweekiso does not depend on the WEEK_START parameter; dayofweek would. -#}
{% macro snowflake__happytalk_date_part(part, expression) -%}
  cast(date_part({{ 'dayofweekiso' if part == 'isodow' else part }}, {{ expression }}) as {{ dbt.type_int() }})
{%- endmacro %}

{#- BigQuery's dayofweek is 1 for Sunday: shifted to ISO's 1 for Monday. -#}
{% macro bigquery__happytalk_date_part(part, expression) -%}
  {%- if part == 'isodow' -%}
    cast(mod(extract(dayofweek from {{ expression }}) + 5, 7) + 1 as {{ dbt.type_int() }})
  {%- else -%}
    cast(extract({{ part }} from {{ expression }}) as {{ dbt.type_int() }})
  {%- endif -%}
{%- endmacro %}


{#-
  happytalk_week(expression): the Monday of the week of a date or timestamp, as a date. Not
  dbt.date_trunc('week'): BigQuery's week starts on Sunday, Snowflake's on WEEK_START.
-#}
{% macro happytalk_week(expression) -%}
  {{ return(adapter.dispatch('happytalk_week', 'happytalk')(expression)) }}
{%- endmacro %}

{% macro default__happytalk_week(expression) -%}
  {{ happytalk_unsupported('happytalk_week') }}
{%- endmacro %}

{% macro postgres__happytalk_week(expression) -%}
  cast(date_trunc('week', {{ expression }}) as date)
{%- endmacro %}

{% macro duckdb__happytalk_week(expression) -%}
  cast(date_trunc('week', {{ expression }}) as date)
{%- endmacro %}

{% macro snowflake__happytalk_week(expression) -%}
  dateadd(day, 1 - dayofweekiso({{ expression }}), cast({{ expression }} as date))
{%- endmacro %}

{% macro bigquery__happytalk_week(expression) -%}
  date_trunc(cast({{ expression }} as date), isoweek)
{%- endmacro %}
