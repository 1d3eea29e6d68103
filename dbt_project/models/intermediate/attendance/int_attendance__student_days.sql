{{
    config(
        materialized='view',
        pre_hook=[
            "{{ refresh_statistics(source('aeries', 'enrollment')) }}",
            "{{ refresh_statistics(source('aeries', 'schools')) }}",
        ],
    )
}}
-- depends_on: {{ source('aeries', 'enrollment') }}
-- depends_on: {{ source('aeries', 'schools') }}
{# The student-day spine (docs block attendance_spine_rule): every instructional day of every
    enrollment span, up to the as-of date. A view, so the incremental fact's date filter is
    pushed down into it. -#}
with

enrollment as (
    select * from {{ ref('stg_aeries__enrollment') }}
),

instructional_days as (
    select * from {{ ref('int_attendance__instructional_days') }}
),

schools as (
    select * from {{ ref('stg_aeries__schools') }}
),

spans as (
    select
        enrollment.student_id,
        enrollment.school_code,
        enrollment.grade_level,
        enrollment.enter_date,
        -- leave_date is the last enrolled day (inclusive)
        coalesce(enrollment.leave_date, {{ date_infinity() }}) as last_enrolled_date
    from enrollment
),

span_days as (
    select
        spans.student_id,
        spans.school_code,
        instructional_days.calendar_date,
        instructional_days.school_year,
        instructional_days.school_day_number,
        instructional_days.correction_deadline,
        instructional_days.can_be_corrected,
        spans.grade_level,
        spans.enter_date
    from spans
    inner join instructional_days
        on
            spans.school_code = instructional_days.school_code
            and instructional_days.calendar_date between spans.enter_date and spans.last_enrolled_date
    where instructional_days.calendar_date <= {{ attendance_as_of_date() }}
),

spine as (
    -- overlapping spans at one school yield one row per day: the latest span wins. Keyed school,
    -- date, student (the facts' key order): a full build of the daily fact then writes each
    -- school's days in date order, as nightly builds append them, so the nights after it read
    -- and rewrite a day's rows from a few thousand pages instead of from every page of the table
    {{ latest_by_key('span_days', ['school_code', 'calendar_date', 'student_id'], ['enter_date desc']) }}
)

select
    spine.student_id,
    spine.school_code,
    spine.calendar_date,
    spine.school_year,
    spine.school_day_number,
    spine.grade_level,
    spine.correction_deadline,
    spine.can_be_corrected,
    coalesce(schools.is_negative_attendance, true) as is_negative_attendance,
    coalesce(schools.is_period_attendance, false) as is_period_attendance
from spine
left join schools
    on spine.school_code = schools.school_code
