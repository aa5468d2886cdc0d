{#-
  Business hours: the schedule the vars set (dbt_project.yml), checked when the project
  compiles, and the business seconds between two instants. DECISIONLOG.md, "Business hours".
-#}

{#-
  happytalk_business_schedule(): [(ISO weekday 1-7, opening minute, closing minute)] of the
  days var('happytalk_business_hours') opens, minutes since the local midnight. A misspelt day,
  a time that is not HH:MM or a closing not after the opening stops the compilation: a wrong
  schedule would silently move every business-hour figure.
-#}
{% macro happytalk_business_schedule() %}
  {%- set weekdays = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] -%}
  {%- set hours = var('happytalk_business_hours') or {} -%}
  {%- set schedule = [] -%}
  {%- for day, span in hours.items() -%}
    {%- if (day | lower) not in weekdays -%}
      {{ exceptions.raise_compiler_error("happytalk_business_hours: '" ~ day ~ "' is not a weekday (monday ... sunday)") }}
    {%- endif -%}
    {%- if span is string or span | length != 2 -%}
      {{ exceptions.raise_compiler_error("happytalk_business_hours: " ~ day ~ " must be [\"HH:MM\", \"HH:MM\"], opening and closing") }}
    {%- endif -%}
    {%- set minutes = [] -%}
    {%- for clock in span -%}
      {%- set parts = (clock | string).split(':') -%}
      {%- if parts | length != 2 or not parts[0].isdigit() or not parts[1].isdigit()
            or parts[1] | int > 59 or parts[0] | int * 60 + parts[1] | int > 1440 -%}
        {{ exceptions.raise_compiler_error("happytalk_business_hours: " ~ day ~ " has '" ~ clock ~ "', not a time HH:MM from 00:00 to 24:00") }}
      {%- endif -%}
      {%- do minutes.append(parts[0] | int * 60 + parts[1] | int) -%}
    {%- endfor -%}
    {%- if minutes[1] <= minutes[0] -%}
      {{ exceptions.raise_compiler_error("happytalk_business_hours: " ~ day ~ " closes at " ~ span[1] ~ ", not after it opens (" ~ span[0] ~ "); a shift past midnight is two days' hours") }}
    {%- endif -%}
    {%- do schedule.append((weekdays.index(day | lower) + 1, minutes[0], minutes[1])) -%}
  {%- endfor -%}
  {{ return(schedule | sort) }}
{% endmacro %}


{#-
  happytalk_company_days_off(): a query of var('happytalk_company_days_off') ({"YYYY-MM-DD":
  "why"}) as rows (day_off_date, day_off_reason); no rows when there are none.
-#}
{% macro happytalk_company_days_off() %}
  {%- set days_off = var('happytalk_company_days_off') or {} -%}
  {%- if days_off is string or days_off is not mapping -%}
    {{ exceptions.raise_compiler_error("happytalk_company_days_off must map days to reasons: {\"2024-05-02\": \"창립기념일\"}") }}
  {%- endif -%}
  {%- for day, reason in days_off.items() -%}
    {%- set day_text = day | string -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', day_text) -%}
      {{ exceptions.raise_compiler_error("happytalk_company_days_off: '" ~ day_text ~ "' is not a day YYYY-MM-DD") }}
    {%- endif %}
    select
        cast('{{ day_text }}' as date) as day_off_date,
        cast('{{ (reason or "company day off") | string | replace("'", "''") }}' as {{ dbt.type_string() }}) as day_off_reason
    {% if not loop.last %}union all{% endif %}
  {%- else %}
    {#- No rows: a WHERE needs a FROM on BigQuery, so the one row is filtered out of a subquery. #}
    select day_off_date, day_off_reason
    from (
        select
            cast(null as date) as day_off_date,
            cast(null as {{ dbt.type_string() }}) as day_off_reason
    ) as no_day_off
    where day_off_date is not null
  {%- endfor %}
{% endmacro %}


{#-
  happytalk_business_clock(instant_utc, day): the business seconds from the calendar's first
  day to a UTC instant. `day` is the alias of int_happytalk__business_calendar joined on the
  instant's calendar day in var('happytalk_business_timezone') (happytalk_business_day):
  the business seconds of the days before it, plus the part of that day's opening hours gone
  by the instant (none before the opening, all of it after the closing). Null when the
  instant is missing or its day is not in the calendar.

  The business seconds of an interval are then the clock at its end minus the clock at its
  start: the sum of its overlaps with every business day's opening hours
  (DECISIONLOG.md, "Business hours"), found with one equality join per instant, which every
  warehouse plans as a hash join; a subquery per room summing the days between would be one
  scan of the calendar per room.
-#}
{% macro happytalk_business_clock(instant_utc, day) -%}
  ({{ day }}.business_seconds_before + case when {{ day }}.is_business_day then
      least(greatest({{ dbt.datediff(day ~ '.opens_at_utc', instant_utc, 'second') }}, 0), {{ day }}.business_seconds)
  else 0 end)
{%- endmacro %}


{#- happytalk_business_day(instant_utc): the instant's calendar day, as the calendar's days are. -#}
{% macro happytalk_business_day(instant_utc) -%}
  cast({{ happytalk_local(instant_utc, var('happytalk_business_timezone')) }} as date)
{%- endmacro %}


{#-
  happytalk_business_seconds(start_utc, end_utc, start_day, end_day): the business seconds
  between two UTC instants, `start_day` and `end_day` the calendar rows joined on their days
  (happytalk_business_clock). Null when either instant is missing or the end comes before the
  start (DECISIONLOG.md, "Negative and missing intervals"); 0 when the whole interval lies
  outside business hours.
-#}
{% macro happytalk_business_seconds(start_utc, end_utc, start_day, end_day) -%}
  case
    when {{ start_utc }} is null or {{ end_utc }} is null or {{ end_utc }} < {{ start_utc }} then null
    else {{ happytalk_business_clock(end_utc, end_day) }} - {{ happytalk_business_clock(start_utc, start_day) }}
  end
{%- endmacro %}
