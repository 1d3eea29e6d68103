with

source as (
    select * from {{ source('aeries', 'attendance_days') }}
),

deduplicated as (
    {{ latest_by_key('source', ['school_code', 'student_id', 'calendar_date'], ['_loaded_at desc']) }}
),

renamed as (
    select
        ---------- ids
        school_code::bigint as school_code,
        student_id::bigint as student_id,
        calendar_date::date as calendar_date,
        ---------- text
        nullif(trim(all_day_attendance_code), '') as all_day_code,
        ---------- timestamps
        _loaded_at as loaded_at
    from deduplicated
)

select * from renamed
