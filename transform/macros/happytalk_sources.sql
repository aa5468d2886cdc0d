{#-
  Where the raw tables are, and several HappyTalk accounts as one: the vars of the convention
  data teams know from Fivetran's packages, with a macro of our own.

  - One account (the default): source('happytalk', table), in var('happytalk_schema') (else
    env HAPPYTALK_SOURCE_SCHEMA, else `happytalk`) of var('happytalk_database') (else the
    target's database); `source_relation` is '' on every row.
  - var('happytalk_union_schemas'): a list of schemas (one per account, each loaded with its own
    token), all in var('happytalk_database'); `source_relation` is the schema a row came from.
  - var('happytalk_union_databases'): a list of databases, each with var('happytalk_schema');
    `source_relation` is the database a row came from.

  Each account is read with its own columns (one loader may keep `_sdc_*` columns or offsets
  another does not), deduplicated within itself, then the accounts are put one under the other
  (`union all`): keys are only unique within an account (message ids are per-account numbers).
-#}

{#-
  happytalk_source_relations(table): [(source_relation, relation)] of the raw `table`
  (`service_history`, `chat_rooms` or `chat_messages`), one per account.
-#}
{% macro happytalk_source_relations(table) %}
  {#- Always called, so that lineage, docs and `dbt source freshness` know the source. -#}
  {%- set declared = source('happytalk', table) -%}
  {%- set schemas = var('happytalk_union_schemas', []) or [] -%}
  {%- set databases = var('happytalk_union_databases', []) or [] -%}
  {%- if schemas and databases -%}
    {{ exceptions.raise_compiler_error("Set happytalk_union_schemas or happytalk_union_databases, not both") }}
  {%- endif -%}
  {%- for name, listed in [('happytalk_union_schemas', schemas), ('happytalk_union_databases', databases)] -%}
    {%- if listed is string or listed is mapping -%}
      {{ exceptions.raise_compiler_error(name ~ " must be a list: [\"happytalk_brand_a\", \"happytalk_brand_b\"]") }}
    {%- endif -%}
  {%- endfor -%}
  {%- set found = [] -%}
  {%- if schemas -%}
    {%- for schema in schemas -%}
      {%- do found.append((schema, api.Relation.create(database=declared.database, schema=schema, identifier=declared.identifier))) -%}
    {%- endfor -%}
  {%- elif databases -%}
    {%- for database in databases -%}
      {%- do found.append((database, api.Relation.create(database=database, schema=declared.schema, identifier=declared.identifier))) -%}
    {%- endfor -%}
  {%- else -%}
    {%- do found.append(('', declared)) -%}
  {%- endif -%}
  {{ return(found) }}
{% endmacro %}


{#- happytalk_source_relation_literal(name): the account's name as a text literal. -#}
{% macro happytalk_source_relation_literal(name) -%}
  cast('{{ name | replace("'", "''") }}' as {{ dbt.type_string() }})
{%- endmacro %}
