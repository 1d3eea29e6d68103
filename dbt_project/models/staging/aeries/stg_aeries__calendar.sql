{%- set instructional_codes = var('attendance_instructional_holiday_codes', ['', '%']) -%}
{%- set quoted_codes = [] -%}
{%- for code in instructional_codes %}{% do quoted_codes.append("'" ~ code ~ "'") %}{% endfor -%}

with

source as (
    select * from {{ source('aeries', 'calendar') }}
),

deduplicated as (
    {{ latest_by_key('source', ['school_code', 'calendar_date'], ['_loaded_at desc']) }}
),

renamed as (
    select
        ---------- ids
        school_code::bigint as school_code,
        calendar_date::date as calendar_date,
        ---------- numerics
        calendar_day_number::integer as calendar_day_number,
        attendance_month::integer as attendance_month,
        ---------- text
        coalesce(trim(holiday_code), '') as holiday_code,
        ---------- booleans
        coalesce(attendance_month_locked, false) as is_attendance_month_locked,
        {{ iso_day_of_week("calendar_date") }} >= 6 as is_weekend,
        (
            {{ iso_day_of_week("calendar_date") }} < 6
            and coalesce(trim(holiday_code), '') in ({{ quoted_codes | join(', ') }})
        ) as is_instructional_day,
        ---------- timestamps
        _loaded_at as loaded_at
    from deduplicated
)

select * from renamed
