with

source as (
    select * from {{ source('aeries', 'attendance_periods') }}
),

deduplicated as (
    {{ latest_by_key(
        'source',
        ['school_code', 'student_id', 'calendar_date', 'trim(period::' ~ type_text() ~ ')'],
        ['_loaded_at desc'],
    ) }}
),

renamed as (
    select
        ---------- ids
        school_code::bigint as school_code,
        student_id::bigint as student_id,
        calendar_date::date as calendar_date,
        trim(period::{{ type_text() }}) as period,
        section_number::bigint as section_number,
        ---------- text
        nullif(trim(attendance_code), '') as attendance_code,
        ---------- timestamps
        _loaded_at as loaded_at
    from deduplicated
)

select * from renamed
