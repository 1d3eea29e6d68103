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
),

aggregated as (
    select
        student_id,
        school_code,
        school_year,
        month_start,
        {{ attendance_day_totals() }},
        -- new days only: their totals add to the month's row held (macro attendance_months_reprocess_rows)
        {{ dbt.bool_or('appended') }} as appended
    from daily
    group by student_id, school_code, school_year, month_start
),

{%- set appends = is_incremental() and attendance_months_reprocess_plan()['append_from'] is not none %}

totals as (
    {%- if appends %}
        select
            aggregated.student_id,
            aggregated.school_code,
            aggregated.school_year,
            aggregated.month_start,
            {{ attendance_added_totals('held', 'aggregated') }},
            coalesce(held.presence_pattern, '') || aggregated.presence_pattern as presence_pattern
    {%- else %}
        select aggregated.*
    {%- endif %}
    from aggregated
    {%- if appends %}
        left join {{ this }} as held
            on
                aggregated.appended
                and aggregated.student_id = held.student_id
                and aggregated.school_code = held.school_code
                and aggregated.school_year = held.school_year
                and aggregated.month_start = held.month_start
    {%- endif %}
)

select
    student_id::bigint as student_id,
    school_code::bigint as school_code,
    school_year::{{ type_text() }} as school_year,
    month_start::date as month_start,
    grade_level::integer as grade_level,
    first_enrolled_date::date as first_enrolled_date,
    last_enrolled_date::date as last_enrolled_date,
    {%- for column in attendance_day_total_counts() %}
        {{ column }}::{{ 'bigint' if column == 'periods_absent' else 'integer' }} as {{ column }},
    {%- endfor %}
    presence_pattern::{{ type_text() }} as presence_pattern,
    now()::{{ type_instant() }} as built_at
from totals
