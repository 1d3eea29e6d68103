with

source as (
    select * from {{ source('aeries', 'schools') }}
),

deduplicated as (
    {{ latest_by_key('source', ['school_code'], ['_loaded_at desc']) }}
),

renamed as (
    select
        ---------- ids
        school_code::bigint as school_code,
        ---------- text
        trim(name) as school_name,
        trim(attendance_type) as attendance_type,
        trim(attendance_reporting) as attendance_reporting,
        nullif(trim(attendance_period::{{ type_text() }}), '') as attendance_period,
        nullif(trim(inactive_status_code), '') as inactive_status_code,
        ---------- numerics
        low_grade_level::integer as low_grade_level,
        high_grade_level::integer as high_grade_level,
        ---------- booleans
        coalesce(lower(trim(attendance_reporting)) = 'negative', true) as is_negative_attendance,
        coalesce(lower(trim(attendance_type)) = 'period', false) as is_period_attendance,
        ---------- timestamps
        _loaded_at as loaded_at
    from deduplicated
)

select * from renamed
