{#-
    What: fct_attendance_daily has exactly one row for every student-day of the spine (every
    instructional day of every enrollment span up to the as-of date), no more, no fewer.
    Why it matters: the daily fact is incremental; a reprocessing boundary that is too late
    would leave stale days (e.g. after a shortened enrollment) or miss new ones.
    How to resolve: rebuild with `dbt build --full-refresh --select fct_attendance_daily`, then
    look for the source change the incremental boundary did not see.
    Nightly builds check only dates from attendance_tests_since() on.
-#}
{{ config(severity='error') }}

with

spine as (
    select
        student_id,
        school_code,
        calendar_date
    from {{ ref('int_attendance__student_days') }}
    where calendar_date >= {{ attendance_tests_since() }}
),

daily as (
    select
        student_id,
        school_code,
        calendar_date
    from {{ ref('fct_attendance_daily') }}
    where calendar_date >= {{ attendance_tests_since() }}
),

-- one full join on the key (both sides hold a key once) rather than two EXCEPTs, each of which
-- hashed both sides again: the nightly runs this before the models downstream of the fact
compared as (
    select
        coalesce(spine.student_id, daily.student_id) as student_id,
        coalesce(spine.school_code, daily.school_code) as school_code,
        coalesce(spine.calendar_date, daily.calendar_date) as calendar_date,
        case
            when daily.student_id is null then 'missing from fct_attendance_daily'
            else 'not in the spine'
        end as problem
    from spine
    full outer join daily
        on
            spine.student_id = daily.student_id
            and spine.school_code = daily.school_code
            and spine.calendar_date = daily.calendar_date
    where spine.student_id is null or daily.student_id is null
)

select * from compared
