{#- the contract is Postgres' (docs/scale.md, "What is portable") -#}
{{ config(contract={'enforced': target.type != 'spark'}) -}}
{#-
    One row per school, grade, school year and i-Ready test window (window dates from seed
    iready_test_windows). Attendance figures come from fct_attendance_daily: enrollment and
    average daily attendance inside the window; chronic absence and attendance tiers are the
    students' year-to-date status read from fct_attendance_student_year, which owns the rule. i-Ready
    figures use each student's latest diagnostic in the window, attributed to the school and
    grade the student attended during the window.
-#}
{%- set has_iready = source_enabled('iready') %}

with

daily as (

    select * from {{ ref('fct_attendance_daily') }}
    where is_enrolled_day

),

test_windows as (

    select * from {{ ref('iready_test_windows') }}

),

student_year as (

    select * from {{ ref('fct_attendance_student_year') }}

),

{% if has_iready -%}
    diagnostics as (

        select * from {{ ref('fct_iready_diagnostics') }}
        where is_latest_in_window

    ),

    growth as (

        select * from {{ ref('fct_iready_growth') }}

    ),

    id_map as (

        select * from {{ ref('int_students__iready_id_map') }}

    ),

{% endif -%}
windows as (

    select
        school_year_start || '-' || (school_year_start + 1) as school_year,
        window_code as test_window,
        start_date,
        end_date
    from test_windows

),

window_days as (

    select
        daily.student_id,
        daily.school_code,
        daily.school_year,
        windows.test_window,
        daily.calendar_date,
        daily.grade_level,
        daily.is_present
    from daily
    inner join windows
        on
            daily.school_year = windows.school_year
            and daily.calendar_date between windows.start_date and windows.end_date

),

window_students as (

    {#- the school and grade a student belongs to in a window: their last enrolled day there #}
    select
        student_id,
        school_code,
        school_year,
        test_window,
        {{ value_at_max('grade_level', 'calendar_date') }} as grade_level,
        count(*) as days_enrolled_in_window,
        count(*) filter (where is_present) as days_present_in_window
    from window_days
    group by student_id, school_code, school_year, test_window

),

student_window_attendance as (

    {#- chronic absence and the tier have one owner, fct_attendance_student_year (year to date) #}
    select
        window_students.*,
        student_year.is_chronic_absence_eligible,
        student_year.is_chronically_absent,
        student_year.attendance_tier
    from window_students
    inner join student_year
        on
            window_students.student_id = student_year.student_id
            and window_students.school_code = student_year.school_code
            and window_students.school_year = student_year.school_year

),

attendance_kpis as (

    select
        school_code,
        grade_level,
        school_year,
        test_window,
        count(distinct student_id) as enrollment,
        round(100.0 * sum(days_present_in_window) / sum(days_enrolled_in_window), 2)
            as average_daily_attendance,
        count(*) filter (where is_chronic_absence_eligible) as chronic_absence_eligible_count,
        count(*) filter (where is_chronically_absent) as chronically_absent_count,
        count(*) filter (where attendance_tier = 'satisfactory') as tier_satisfactory_count,
        count(*) filter (where attendance_tier = 'at-risk') as tier_at_risk_count,
        count(*) filter (where attendance_tier = 'moderate') as tier_moderate_count,
        count(*) filter (where attendance_tier = 'severe') as tier_severe_count
    from student_window_attendance
    group by school_code, grade_level, school_year, test_window

),

{% if has_iready -%}
    window_diagnostics as (

        select
            window_students.school_code,
            window_students.grade_level,
            window_students.school_year,
            window_students.test_window,
            diagnostics.subject,
            diagnostics.is_on_or_above_grade_level,
            100.0 * (diagnostics.overall_scale_score - growth.baseline_scale_score)
            / nullif(growth.annual_typical_growth_measure, 0) as percent_progress_typical
        from diagnostics
        inner join id_map
            on diagnostics.student_id = id_map.iready_student_id
        inner join window_students
            on
                id_map.student_id = window_students.student_id
                and diagnostics.school_year = window_students.school_year
                and diagnostics.test_window = window_students.test_window
        left join growth
            on
                diagnostics.student_id = growth.student_id
                and diagnostics.subject = growth.subject
                and diagnostics.school_year = growth.school_year

    ),

    iready_kpis as (

        select
            school_code,
            grade_level,
            school_year,
            test_window,
            count(*) filter (where subject = 'reading') as reading_assessed_count,
            avg(case when is_on_or_above_grade_level then 100.0 else 0 end) filter (where subject = 'reading')
                as reading_pct_on_or_above_grade_level,
            percentile_cont(0.5) within group (order by percent_progress_typical) filter (where subject = 'reading')
                as reading_median_percent_progress_typical,
            count(*) filter (where subject = 'math') as math_assessed_count,
            avg(case when is_on_or_above_grade_level then 100.0 else 0 end) filter (where subject = 'math')
                as math_pct_on_or_above_grade_level,
            percentile_cont(0.5) within group (order by percent_progress_typical) filter (where subject = 'math')
                as math_median_percent_progress_typical
        from window_diagnostics
        group by school_code, grade_level, school_year, test_window

    ),

{% else -%}
iready_kpis as (

    {#- a deployment without i-Ready: no assessed students, no shares #}
    select
        cast(null as bigint) as school_code,
        cast(null as integer) as grade_level,
        cast(null as {{ type_text() }}) as school_year,
        cast(null as {{ type_text() }}) as test_window,
        {%- for subject in ['reading', 'math'] %}
            cast(null as bigint) as {{ subject }}_assessed_count,
            cast(null as {{ type_exact_numeric() }}) as {{ subject }}_pct_on_or_above_grade_level,
            cast(null as double precision) as {{ subject }}_median_percent_progress_typical{{ ',' if not loop.last }}
        {%- endfor %}
    where false

),

{% endif -%}
final as (

    select
        attendance_kpis.school_code || '|' || attendance_kpis.grade_level || '|' || attendance_kpis.school_year
        || '|' || attendance_kpis.test_window as school_kpi_id,
        attendance_kpis.school_code,
        attendance_kpis.grade_level,
        attendance_kpis.school_year,
        attendance_kpis.test_window,
        cast(attendance_kpis.enrollment as integer) as enrollment,
        attendance_kpis.average_daily_attendance,
        cast(attendance_kpis.chronic_absence_eligible_count as integer) as chronic_absence_eligible_count,
        cast(attendance_kpis.chronically_absent_count as integer) as chronically_absent_count,
        round(
            100.0 * attendance_kpis.chronically_absent_count
            / nullif(attendance_kpis.chronic_absence_eligible_count, 0), 2
        ) as chronic_absentee_rate,
        cast(attendance_kpis.tier_satisfactory_count as integer) as tier_satisfactory_count,
        cast(attendance_kpis.tier_at_risk_count as integer) as tier_at_risk_count,
        cast(attendance_kpis.tier_moderate_count as integer) as tier_moderate_count,
        cast(attendance_kpis.tier_severe_count as integer) as tier_severe_count,
        cast(coalesce(iready_kpis.reading_assessed_count, 0) as integer) as reading_assessed_count,
        round(iready_kpis.reading_pct_on_or_above_grade_level, 2) as reading_pct_on_or_above_grade_level,
        round(cast(iready_kpis.reading_median_percent_progress_typical as {{ type_exact_numeric() }}), 1)
            as reading_median_percent_progress_typical,
        cast(coalesce(iready_kpis.math_assessed_count, 0) as integer) as math_assessed_count,
        round(iready_kpis.math_pct_on_or_above_grade_level, 2) as math_pct_on_or_above_grade_level,
        round(cast(iready_kpis.math_median_percent_progress_typical as {{ type_exact_numeric() }}), 1)
            as math_median_percent_progress_typical
    from attendance_kpis
    left join iready_kpis
        on
            attendance_kpis.school_code = iready_kpis.school_code
            and attendance_kpis.grade_level = iready_kpis.grade_level
            and attendance_kpis.school_year = iready_kpis.school_year
            and attendance_kpis.test_window = iready_kpis.test_window

)

select * from final
