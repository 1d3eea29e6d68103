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
        {{ value_at_max('grade_level', 'calendar_date') }} as grade_level,
        min(calendar_date) as first_enrolled_date,
        max(calendar_date) as last_enrolled_date,
        count(*) as days_enrolled,
        count(*) filter (where is_present) as days_present,
        count(*) filter (where is_full_day_absent) as days_absent,
        count(*) filter (where is_excused) as days_absent_excused,
        count(*) filter (where is_unexcused) as days_absent_unexcused,
        count(*) filter (where is_suspended_out_of_school) as days_suspended_out_of_school,
        count(*) filter (where is_suspended_in_school) as days_suspended_in_school,
        count(*) filter (where is_independent_study) as days_independent_study,
        count(*) filter (
            where is_full_day_absent and attendance_category = 'independent_study_incomplete'
        ) as days_independent_study_incomplete,
        count(*) filter (where is_tardy) as days_tardy,
        count(*) filter (where is_absent and not is_full_day_absent) as days_partially_absent,
        sum(periods_absent) as periods_absent,
        -- enrolled days in date order, 1 = present: the recent-window rate takes the last N of the year
        {{ ordered_string_agg("case when is_present then '1' else '0' end", '', 'calendar_date') }}
            as presence_pattern,
        -- new days only: their totals add to the month's row held (macro attendance_months_reprocess_rows)
        {{ dbt.bool_or('appended') }} as appended
    from daily
    group by student_id, school_code, school_year, month_start
)

{%- set counts = [
    'days_enrolled', 'days_present', 'days_absent', 'days_absent_excused', 'days_absent_unexcused',
    'days_suspended_out_of_school', 'days_suspended_in_school', 'days_independent_study',
    'days_independent_study_incomplete', 'days_tardy', 'days_partially_absent', 'periods_absent',
] %}
{%- set appends = is_incremental() and attendance_months_reprocess_plan()['append_from'] is not none %}

select
    aggregated.student_id::bigint as student_id,
    aggregated.school_code::bigint as school_code,
    aggregated.school_year::{{ type_text() }} as school_year,
    aggregated.month_start::date as month_start,
    -- the new days are the month's latest: their grade, and the month's first day from the row held
    aggregated.grade_level::integer as grade_level,
    {%- if appends %}
        coalesce(held.first_enrolled_date, aggregated.first_enrolled_date)::date as first_enrolled_date,
    {%- else %}
        aggregated.first_enrolled_date::date as first_enrolled_date,
    {%- endif %}
    aggregated.last_enrolled_date::date as last_enrolled_date,
    {%- for column in counts %}
        {%- if appends %}
            (coalesce(held.{{ column }}, 0) + aggregated.{{ column }})::{{ 'bigint' if column == 'periods_absent' else 'integer' }}
        {%- else %}
            aggregated.{{ column }}::{{ 'bigint' if column == 'periods_absent' else 'integer' }}
        {%- endif %} as {{ column }},
    {%- endfor %}
    {%- if appends %}
        (coalesce(held.presence_pattern, '') || aggregated.presence_pattern)::{{ type_text() }} as presence_pattern,
    {%- else %}
        aggregated.presence_pattern::{{ type_text() }} as presence_pattern,
    {%- endif %}
    now()::{{ type_instant() }} as built_at
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
