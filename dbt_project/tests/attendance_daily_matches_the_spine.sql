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

missing as (
    select
        spine.*,
        'missing from fct_attendance_daily' as problem
    from spine
    except
    select
        daily.*,
        'missing from fct_attendance_daily' as problem
    from daily
),

extra as (
    select
        daily.*,
        'not in the spine' as problem
    from daily
    except
    select
        spine.*,
        'not in the spine' as problem
    from spine
)

select * from missing
union all
select * from extra
