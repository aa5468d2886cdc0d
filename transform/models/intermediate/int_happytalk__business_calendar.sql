{#-
  One row per day of the years the holiday seed covers (korean_public_holidays: whole years):
  whether the support team works that day and, if so, from when to when, as UTC instants.
  Days are calendar days in var('happytalk_business_timezone'); hours come from
  var('happytalk_business_hours'); public holidays close when var('happytalk_public_holidays_closed');
  the company's own days off are var('happytalk_company_days_off').
-#}
{%- set zone = var('happytalk_business_timezone') -%}
{%- set schedule = happytalk_business_schedule() -%}

with digits as (

    select 0 as digit union all select 1 union all select 2 union all select 3
    union all select 4 union all select 5 union all select 6 union all select 7
    union all select 8 union all select 9

),

day_numbers as (

    -- 0 to 9999: 27 years of days (scripts/korean_holidays.py writes at most that many).
    select ones.digit + 10 * tens.digit + 100 * hundreds.digit + 1000 * thousands.digit as day_number
    from digits as ones
    cross join digits as tens
    cross join digits as hundreds
    cross join digits as thousands

),

holidays as (

    select
        cast(holiday_date as date) as holiday_date,
        holiday_name_ko,
        holiday_name_en
    from {{ ref('korean_public_holidays') }}

),

years as (

    select
        min({{ happytalk_date_part('year', 'holiday_date') }}) as first_year,
        max({{ happytalk_date_part('year', 'holiday_date') }}) as last_year
    from holidays

),

days as (

    select
        cast({{ dbt.dateadd(
            'day',
            'day_numbers.day_number',
            "cast(" ~ dbt.concat(["cast(years.first_year as " ~ dbt.type_string() ~ ")", "'-01-01'"]) ~ " as date)"
        ) }} as date) as calendar_date,
        years.last_year
    from day_numbers
    cross join years

),

days_off as (

    {{ happytalk_company_days_off() }}

),

calendar as (

    select
        days.calendar_date,
        {{ happytalk_date_part('isodow', 'days.calendar_date') }} as iso_weekday,
        holidays.holiday_date is not null as is_public_holiday,
        holidays.holiday_name_ko,
        holidays.holiday_name_en,
        days_off.day_off_date is not null as is_company_day_off,
        days_off.day_off_reason
    from days
    left join holidays
        on days.calendar_date = holidays.holiday_date
    left join days_off
        on days.calendar_date = days_off.day_off_date
    where {{ happytalk_date_part('year', 'days.calendar_date') }} <= days.last_year

),

hours as (

    select
        calendar.*,
        case calendar.iso_weekday
        {%- for weekday, opens, closes in schedule %}
            when {{ weekday }} then {{ opens }}
        {%- endfor %}
        end as opens_minute,
        case calendar.iso_weekday
        {%- for weekday, opens, closes in schedule %}
            when {{ weekday }} then {{ closes }}
        {%- endfor %}
        end as closes_minute
    from calendar

),

business as (

    select
        hours.*,
        (
            hours.opens_minute is not null
            and not hours.is_company_day_off
            {%- if var('happytalk_public_holidays_closed') %}
            and not hours.is_public_holiday
            {%- endif %}
        ) as is_business_day
    from hours

),

opening as (

    select
        calendar_date,
        iso_weekday,
        is_business_day,
        is_public_holiday,
        holiday_name_ko,
        holiday_name_en,
        is_company_day_off,
        day_off_reason,
        case when is_business_day then
            {{ happytalk_utc_of_local(dbt.dateadd('minute', 'opens_minute', 'cast(calendar_date as timestamp)'), zone) }}
        end as opens_at_utc,
        case when is_business_day then
            {{ happytalk_utc_of_local(dbt.dateadd('minute', 'closes_minute', 'cast(calendar_date as timestamp)'), zone) }}
        end as closes_at_utc
    from business

),

open_seconds as (

    -- Seconds between the UTC instants, not closing minus opening minutes: a day whose hours
    -- span a daylight-saving change is an hour shorter or longer.
    select
        opening.*,
        coalesce({{ dbt.datediff('opens_at_utc', 'closes_at_utc', 'second') }}, 0) as business_seconds
    from opening

)

select
    calendar_date,
    iso_weekday,
    is_business_day,
    is_public_holiday,
    holiday_name_ko,
    holiday_name_en,
    is_company_day_off,
    day_off_reason,
    '{{ zone }}' as business_timezone,
    opens_at_utc,
    closes_at_utc,
    business_seconds,
    -- The business seconds of every earlier day of the calendar: business time between two
    -- instants is then a difference of two look-ups by day (macro happytalk_business_clock),
    -- not a sum over the days between them.
    coalesce(sum(business_seconds) over (
        order by calendar_date rows between unbounded preceding and 1 preceding
    ), 0) as business_seconds_before
from open_seconds
