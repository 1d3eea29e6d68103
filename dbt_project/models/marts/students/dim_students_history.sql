{#- Every version of every student record per school (SCD2 from snap_students). -#}
with

history as (

    select * from {{ ref('snap_students') }}

),

schools as (

    select * from {{ ref('stg_aeries__schools') }}

),

final as (

    select
        history.dbt_scd_id as student_version_id,
        history.student_id,
        history.school_code,
        schools.school_name,
        history.grade_level,
        case
            when coalesce(history.dbt_is_deleted, 'False') = 'True' then 'removed'
            when history.school_leave_date is not null then 'withdrawn'
            else 'enrolled'
        end as enrollment_status,
        history.inactive_status_code,
        history.school_enter_date,
        history.school_leave_date,
        history.dbt_valid_to = cast('9999-12-31' as timestamp) as is_current,
        cast(history.dbt_valid_from as timestamp) as valid_from,
        cast(history.dbt_valid_to as timestamp) as valid_to
    from history
    left join schools
        on history.school_code = schools.school_code

)

select * from final
