with

source as (
    select * from {{ source('aeries', 'students') }}
),

deduplicated as (
    {{ latest_by_key('source', ['school_code', 'student_id'], ['_loaded_at desc']) }}
),

renamed as (
    select
        ---------- ids
        student_id::bigint as student_id,
        school_code::bigint as school_code,
        nullif(trim(student_number::{{ type_text() }}), '') as student_number,
        nullif(trim(state_student_id::{{ type_text() }}), '') as state_student_id,
        ---------- text
        trim(last_name) as last_name,
        trim(first_name) as first_name,
        nullif(trim(gender), '') as gender,
        nullif(trim(inactive_status_code), '') as inactive_status_code,
        ---------- numerics
        grade::integer as grade_level,
        ---------- dates
        birthdate::date as birth_date,
        school_enter_date::date as school_enter_date,
        school_leave_date::date as school_leave_date,
        ---------- timestamps
        _loaded_at as loaded_at
    from deduplicated
)

select * from renamed
