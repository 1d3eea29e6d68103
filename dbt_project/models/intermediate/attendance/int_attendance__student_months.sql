{#- Attendance totals per student, school, school year and month, from fct_attendance_daily's
    enrolled days: what fct_attendance_student_year adds up, so a night re-aggregates the
    reprocessed month(s), not the whole year. Incremental on top of the daily fact's own rebuilds
    (macro attendance_months_reprocess_plan). -#}
{#- Spark: a full table build (docs/scale.md, "What is portable") -#}
{{
    config(
        materialized=('table' if target.type == 'spark' else 'incremental'),
        incremental_strategy='replace_student_months',
        on_schema_change='fail',
        post_hook='{{ refresh_statistics(this) }}',
        indexes=[
            {'columns': ['student_id', 'school_code', 'school_year', 'month_start'], 'unique': true},
            {'columns': ['month_start']},
            {'columns': ['built_at']},
        ],
    )
}}

-- depends_on: {{ ref('int_attendance__student_enrollments') }}
-- depends_on: {{ ref('int_attendance__student_schedules') }}
with

daily as (
    select
        reprocessed.*,
        date_trunc('month', reprocessed.calendar_date)::date as month_start
    from ({{ attendance_months_reprocess_rows(ref('fct_attendance_daily'), 'daily') }}) as reprocessed
    where reprocessed.is_enrolled_day
)

select
    student_id::bigint as student_id,
    school_code::bigint as school_code,
    school_year::{{ type_text() }} as school_year,
    month_start::date as month_start,
    {{ value_at_max('grade_level', 'calendar_date') }}::integer as grade_level,
    min(calendar_date)::date as first_enrolled_date,
    max(calendar_date)::date as last_enrolled_date,
    count(*)::integer as days_enrolled,
    count(*) filter (where is_present)::integer as days_present,
    count(*) filter (where is_full_day_absent)::integer as days_absent,
    count(*) filter (where is_excused)::integer as days_absent_excused,
    count(*) filter (where is_unexcused)::integer as days_absent_unexcused,
    count(*) filter (where is_suspended_out_of_school)::integer as days_suspended_out_of_school,
    count(*) filter (where is_suspended_in_school)::integer as days_suspended_in_school,
    count(*) filter (where is_independent_study)::integer as days_independent_study,
    count(*) filter (
        where is_full_day_absent and attendance_category = 'independent_study_incomplete'
    )::integer as days_independent_study_incomplete,
    count(*) filter (where is_tardy)::integer as days_tardy,
    count(*) filter (where is_absent and not is_full_day_absent)::integer as days_partially_absent,
    sum(periods_absent)::bigint as periods_absent,
    -- enrolled days in date order, 1 = present: the recent-window rate takes the last N of the year
    {{ ordered_string_agg("case when is_present then '1' else '0' end", '', 'calendar_date') }}::{{ type_text() }}
        as presence_pattern,
    now()::{{ type_instant() }} as built_at
from daily
group by student_id, school_code, school_year, month_start
