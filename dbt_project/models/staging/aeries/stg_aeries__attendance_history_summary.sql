with

source as (
    select * from {{ source('aeries', 'attendance_history_summary') }}
),

deduplicated as (
    {{ latest_by_key('source', ['student_id', 'school_code', 'school_year'], ['_loaded_at desc']) }}
),

renamed as (
    select
        ---------- ids
        student_id::bigint as student_id,
        school_code::bigint as school_code,
        trim(school_year) as school_year,
        ---------- numerics
        days_enrolled::integer as days_enrolled,
        days_present::integer as days_present,
        days_absence::integer as days_absent,
        days_excused::integer as days_excused,
        days_unexcused::integer as days_unexcused,
        days_tardy::integer as days_tardy,
        days_of_truancy::integer as days_truant,
        days_suspension::integer as days_suspended_out_of_school,
        days_in_school_suspension::integer as days_suspended_in_school,
        ---------- timestamps
        _loaded_at as loaded_at
    from deduplicated
)

select * from renamed
