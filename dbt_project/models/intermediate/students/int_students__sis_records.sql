{#- The non-personal columns of the Aeries student records: what snap_students historises. -#}
with

students as (

    select * from {{ ref('stg_aeries__students') }}

),

final as (

    select
        student_id,
        school_code,
        grade_level,
        inactive_status_code,
        school_enter_date,
        school_leave_date
    from students

)

select * from final
