{#-
  Incremental models: the per-room and per-message models (staging's rooms and messages,
  room_response_times), whose rebuild grows with history. Each is merged on its key
  (source_relation and the room or message id); a run rebuilds only the rooms opened (or, for
  messages, the rooms with a message sent) within var('happytalk_lookback_days') of the latest
  one already built for the account, every copy of them, so a room the tap re-sends while it is
  open or after a failure replaces the row built before (DECISIONLOG.md, "Incremental builds").
  `dbt build --full-refresh` rebuilds everything, and gives the same rows.
-#}

{#-
  happytalk_incremental_strategy(): how dbt puts the rebuilt rows in. `merge` on BigQuery (its
  adapter's way of replacing rows by key). `delete+insert` elsewhere (delete the keys rebuilt,
  insert their rows, in one transaction): DuckDB's and PostgreSQL's adapters merge on a key of
  two columns only on recent versions (PostgreSQL has MERGE from 15), and on Snowflake fakesnow,
  the emulator the suite builds on, binds dbt's MERGE wrongly (a column on both sides is
  "ambiguous"), while Snowflake documents DELETE ... USING and INSERT as well: the SQL tested is
  the SQL shipped. Both leave one row per key.
-#}
{% macro happytalk_incremental_strategy() -%}
  {{ return(adapter.dispatch('happytalk_incremental_strategy', 'happytalk')()) }}
{%- endmacro %}

{% macro default__happytalk_incremental_strategy() -%}
  {{ return('delete+insert') }}
{%- endmacro %}

{% macro bigquery__happytalk_incremental_strategy() -%}
  {{ return('merge') }}
{%- endmacro %}


{#-
  happytalk_tmp_relation_type(): where dbt-snowflake puts a run's rows before the delete and
  the insert: `transient`, a transient table it drops afterwards, in the model's schema. Its
  default for delete+insert, a temporary table named by database and schema, is what fakesnow
  (the emulator the suite builds on) cannot create; a transient table is what both run, so the
  SQL tested is the SQL shipped. It holds the lookback's rooms only. Other adapters ignore the
  setting (none).
-#}
{% macro happytalk_tmp_relation_type() -%}
  {{ return('transient' if adapter.type() == 'snowflake' else none) }}
{%- endmacro %}


{#- happytalk_lookback_days(): var('happytalk_lookback_days'), checked: whole days, 0 or more. -#}
{% macro happytalk_lookback_days() -%}
  {%- set days = var('happytalk_lookback_days') -%}
  {%- if days is not number or days < 0 or days != days | int -%}
    {{ exceptions.raise_compiler_error("happytalk_lookback_days must be a whole number of days, 0 or more: " ~ days) }}
  {%- endif -%}
  {{ return(days | int) }}
{%- endmacro %}


{#-
  happytalk_lookback_starts(column): a query of each account built so far (source_relation) and
  `rebuild_from`, the earliest `column` (a UTC time of this model) a run rebuilds for it: the
  latest one built, less var('happytalk_lookback_days'). An account with nothing built yet has
  no row: it is built whole.
-#}
{% macro happytalk_lookback_starts(column) -%}
  select
      source_relation,
      {{ dbt.dateadd('day', -1 * happytalk_lookback_days(), 'max(' ~ column ~ ')') }} as rebuild_from
  from {{ this }}
  group by source_relation
{%- endmacro %}


{#-
  happytalk_within_lookback(expression, column, account): true for the raw rows of `account` a
  run rebuilds: `expression` (a UTC time of the raw rows) at or after the account's
  rebuild_from (happytalk_lookback_starts(column)), or the account has nothing built yet.
-#}
{% macro happytalk_within_lookback(expression, column, account) -%}
  {%- set start -%}
  (select {{ dbt.dateadd('day', -1 * happytalk_lookback_days(), 'max(' ~ column ~ ')') }} as rebuild_from
   from {{ this }}
   where source_relation = {{ happytalk_source_relation_literal(account) }})
  {%- endset -%}
  ({{ start }} is null or {{ expression }} >= {{ start }})
{%- endmacro %}
