{#-
    One row per SIS student: current school, grade and enrollment status, plus what the
    snap_students history adds (grade and school changes, withdrawals seen over time).
    No personal fields: names, birth date and gender are only in restricted_people.
-#}
with

school_years as (

    select * from {{ ref('int_students__school_years') }}

),

history as (

    select * from {{ ref('snap_students') }}

),

latest_year as (

    select distinct on (student_id) *
    from school_years
    order by student_id asc, school_year_start desc

),

history_summary as (

    select
        student_id,
        count(*) as history_versions_count,
        count(distinct school_code) as schools_attended_count,
        count(distinct grade_level) as grades_recorded_count,
        count(distinct school_leave_date) as withdrawals_recorded_count,
        min(dbt_valid_from) as first_seen_at,
        max(dbt_valid_from) as last_changed_at
    from history
    group by student_id

),

first_year as (

    select
        student_id,
        min(school_year) as first_school_year,
        min(first_enter_date) as first_enter_date
    from school_years
    group by student_id

),

final as (

    select
        latest_year.student_id,
        latest_year.school_year as current_school_year,
        latest_year.school_code,
        latest_year.school_name,
        latest_year.grade_level,
        latest_year.enrollment_status,
        latest_year.latest_enter_date,
        latest_year.latest_leave_date,
        latest_year.latest_exit_reason_code,
        first_year.first_school_year,
        first_year.first_enter_date,
        cast(coalesce(history_summary.schools_attended_count, latest_year.schools_count) as integer)
            as schools_attended_count,
        cast(coalesce(history_summary.withdrawals_recorded_count, 0) as integer) as withdrawals_recorded_count,
        cast(coalesce(history_summary.grades_recorded_count, 1) as integer) as grades_recorded_count,
        cast(coalesce(history_summary.history_versions_count, 0) as integer) as history_versions_count,
        latest_year.enrollment_status = 'enrolled' as is_currently_enrolled,
        cast(history_summary.first_seen_at as timestamp) as first_seen_at,
        cast(history_summary.last_changed_at as timestamp) as last_changed_at
    from latest_year
    left join history_summary
        on latest_year.student_id = history_summary.student_id
    left join first_year
        on latest_year.student_id = first_year.student_id

)

select * from final
