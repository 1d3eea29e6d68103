with

source as (
    select * from {{ source('aeries', 'enrollment') }}
),

deduplicated as (
    {{ latest_by_key('source', ['student_id', 'school_code', 'academic_year', 'enter_date'], ['_loaded_at desc']) }}
),

renamed as (
    select
        ---------- ids
        student_id::bigint as student_id,
        school_code::bigint as school_code,
        trim(academic_year::{{ type_text() }}) as academic_year,
        ---------- numerics
        grade::integer as grade_level,
        ---------- text
        nullif(trim(exit_reason_code), '') as exit_reason_code,
        ---------- dates
        enter_date::date as enter_date,
        leave_date::date as leave_date,
        ---------- timestamps
        _loaded_at as loaded_at
    from deduplicated
)

select * from renamed
