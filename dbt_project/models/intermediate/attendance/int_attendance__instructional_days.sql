{{
    config(
        pre_hook="{{ refresh_statistics(source('aeries', 'calendar')) }}",
        post_hook='{{ refresh_statistics(this) }}',
    )
}}
-- depends_on: {{ source('aeries', 'calendar') }}
{# Instructional days of each school's calendar with the correction deadline of each day
    (docs block attendance_correction_window_rule). -#}
{%- set window_days = var('correction_window_days', 7) | int -%}
{%- set mode = var('correction_window_mode', 'calendar') -%}
{%- if mode not in ('calendar', 'school') -%}
    {{ exceptions.raise_compiler_error("correction_window_mode must be 'calendar' or 'school', got " ~ mode) }}
{%- endif -%}

with

calendar as (
    select * from {{ ref('stg_aeries__calendar') }}
    where is_instructional_day
),

numbered as (
    select
        school_code,
        calendar_date,
        holiday_code,
        {{ attendance_school_year('calendar_date') }} as school_year,
        row_number() over (
            partition by school_code, {{ attendance_school_year('calendar_date') }}
            order by calendar_date
        ) as school_day_number,
        lead(calendar_date, {{ window_days }}) over (
            partition by school_code
            order by calendar_date
        ) as nth_next_instructional_date
    from calendar
),

deadlines as (
    select
        school_code,
        calendar_date,
        holiday_code,
        school_year,
        school_day_number,
        {%- if mode == 'school' %}
            coalesce(
                nth_next_instructional_date,
                -- past the end of the loaded calendar: count the remaining school days as weekdays
                {{ nth_weekday_after('calendar_date', window_days) }}
            )
        {%- else %}
            calendar_date + {{ window_days }}
        {%- endif %} as correction_deadline
    from numbered
)

select
    school_code,
    calendar_date,
    holiday_code,
    school_year,
    school_day_number,
    correction_deadline,
    {{ attendance_as_of_date() }} <= correction_deadline as can_be_corrected
from deadlines
