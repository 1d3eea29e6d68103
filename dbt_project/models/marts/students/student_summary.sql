{#- the contract is Postgres' (docs/scale.md, "What is portable") -#}
{{ config(contract={'enforced': target.type != 'spark'}) -}}
{#-
    One row per student and school year: where the student is (latest enrollment span of
    the year), how they attend (fct_attendance_student_year at that school), their latest
    i-Ready result per subject, academic risk and the intervention priority
    (seed intervention_priority_matrix). No personal fields.
-#}
with

school_years as (

    select * from {{ ref('int_students__school_years') }}

),

attendance as (

    select * from {{ ref('fct_attendance_student_year') }}

),

academic as (

    {% if source_enabled('iready') -%}
        select * from {{ ref('int_students__academic_risk') }}
    {%- else -%}
    {#- a deployment without i-Ready: academic fields stay empty, risk 'unknown' #}
    select
        cast(null as bigint) as student_id,
        cast(null as {{ type_text() }}) as school_year,
        {%- for subject in ['reading', 'math'] %}
            cast(null as integer) as {{ subject }}_scale_score,
            cast(null as {{ type_text() }}) as {{ subject }}_relative_placement,
            cast(null as integer) as {{ subject }}_placement_ordinal,
            cast(null as {{ type_exact_numeric() }}) as {{ subject }}_percent_progress_typical,
            cast(null as {{ type_text() }}) as {{ subject }}_academic_risk,
        {%- endfor %}
        cast(null as {{ type_text() }}) as academic_risk
    where false
    {%- endif %}

),

priority_matrix as (

    select * from {{ ref('intervention_priority_matrix') }}

),

joined as (

    select
        school_years.student_id,
        school_years.school_year,
        school_years.school_code,
        school_years.school_name,
        school_years.grade_level,
        school_years.enrollment_status,
        school_years.schools_count,
        school_years.withdrawals_count,
        attendance.days_enrolled,
        attendance.days_present,
        attendance.days_absent,
        attendance.attendance_rate,
        attendance.absence_rate,
        attendance.is_chronically_absent,
        attendance.attendance_tier_rank,
        attendance.attendance_rank_in_school_grade,
        attendance.recent_attendance_rate,
        attendance.attendance_trend,
        academic.reading_scale_score,
        academic.reading_relative_placement,
        academic.reading_placement_ordinal,
        academic.reading_percent_progress_typical,
        academic.reading_academic_risk,
        academic.math_scale_score,
        academic.math_relative_placement,
        academic.math_placement_ordinal,
        academic.math_percent_progress_typical,
        academic.math_academic_risk,
        coalesce(attendance.attendance_tier, 'unknown') as attendance_tier,
        coalesce(academic.academic_risk, 'unknown') as academic_risk
    from school_years
    left join attendance
        on
            school_years.student_id = attendance.student_id
            and school_years.school_code = attendance.school_code
            and school_years.school_year = attendance.school_year
    left join academic
        on
            school_years.student_id = academic.student_id
            and school_years.school_year = academic.school_year

),

final as (

    select
        joined.student_id || '|' || joined.school_year as student_school_year_id,
        joined.student_id,
        joined.school_year,
        joined.school_code,
        joined.school_name,
        joined.grade_level,
        joined.enrollment_status,
        joined.schools_count,
        joined.withdrawals_count,
        joined.days_enrolled,
        joined.days_present,
        joined.days_absent,
        joined.attendance_rate,
        joined.absence_rate,
        joined.is_chronically_absent,
        joined.attendance_tier,
        joined.attendance_tier_rank,
        joined.attendance_rank_in_school_grade,
        joined.recent_attendance_rate,
        joined.attendance_trend,
        joined.reading_scale_score,
        joined.reading_relative_placement,
        joined.reading_placement_ordinal,
        joined.reading_percent_progress_typical,
        joined.reading_academic_risk,
        joined.math_scale_score,
        joined.math_relative_placement,
        joined.math_placement_ordinal,
        joined.math_percent_progress_typical,
        joined.math_academic_risk,
        joined.academic_risk,
        priority_matrix.priority_rank as intervention_priority_rank,
        priority_matrix.priority_label as intervention_priority
    from joined
    left join priority_matrix
        on
            joined.attendance_tier = priority_matrix.attendance_tier
            and joined.academic_risk = priority_matrix.academic_risk

)

select * from final
