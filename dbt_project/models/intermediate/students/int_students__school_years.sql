{#-
    The SIS spine of the student summary: one row per student and school year from the
    Aeries enrollment spans. School and grade are those of the latest span of the year
    (latest entry date); enrollment status is `enrolled` while that span is open on the
    as-of date, `withdrawn` once it has a leave date on or before it.
-#}
with

enrollment as (

    select * from {{ ref('stg_aeries__enrollment') }}

),

schools as (

    select * from {{ ref('stg_aeries__schools') }}

),

as_of as (

    select {{ attendance_as_of_date() }} as as_of_date

),

spans as (

    select
        enrollment.*,
        cast({{ regex_substr('enrollment.academic_year', '^[0-9]{4}') }} as integer) as school_year_start,
        row_number() over (
            partition by enrollment.student_id, enrollment.academic_year
            order by enrollment.enter_date desc, enrollment.leave_date desc nulls first
        ) as recency_rank
    from enrollment

),

year_totals as (

    select
        student_id,
        school_year_start,
        count(distinct school_code) as schools_count,
        count(*) filter (where leave_date is not null) as withdrawals_count,
        min(enter_date) as first_enter_date
    from spans
    group by student_id, school_year_start

),

final as (

    select
        spans.student_id,
        spans.school_year_start || '-' || (spans.school_year_start + 1) as school_year,
        spans.school_year_start,
        spans.school_code,
        schools.school_name,
        spans.grade_level,
        case
            when spans.leave_date is not null and spans.leave_date <= as_of.as_of_date then 'withdrawn'
            else 'enrolled'
        end as enrollment_status,
        year_totals.first_enter_date,
        spans.enter_date as latest_enter_date,
        spans.leave_date as latest_leave_date,
        spans.exit_reason_code as latest_exit_reason_code,
        cast(year_totals.schools_count as integer) as schools_count,
        cast(year_totals.withdrawals_count as integer) as withdrawals_count
    from spans
    inner join year_totals
        on
            spans.student_id = year_totals.student_id
            and spans.school_year_start = year_totals.school_year_start
    left join schools
        on spans.school_code = schools.school_code
    cross join as_of
    where spans.recency_rank = 1

)

select * from final
