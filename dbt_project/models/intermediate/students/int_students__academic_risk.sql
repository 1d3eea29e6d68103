{#-
    Latest i-Ready result per subject and the academic risk per SIS student and school
    year. Overall risk is the higher of reading and math (high > medium > low); `unknown`
    when neither subject has a placed diagnostic.
-#}
with

growth as (

    select * from {{ ref('fct_iready_growth') }}

),

id_map as (

    select * from {{ ref('int_students__iready_id_map') }}

),

mapped as (

    select
        id_map.student_id,
        growth.school_year,
        growth.subject,
        growth.most_recent_scale_score,
        growth.most_recent_relative_placement,
        growth.most_recent_placement_ordinal,
        growth.percent_progress_typical,
        growth.most_recent_completion_date,
        growth.academic_risk
    from growth
    inner join id_map
        on growth.student_id = id_map.iready_student_id

),

pivoted as (

    select
        student_id,
        school_year,
        max(case when subject = 'reading' then most_recent_scale_score end) as reading_scale_score,
        max(case when subject = 'reading' then most_recent_relative_placement end) as reading_relative_placement,
        max(case when subject = 'reading' then most_recent_placement_ordinal end) as reading_placement_ordinal,
        max(case when subject = 'reading' then percent_progress_typical end) as reading_percent_progress_typical,
        max(case when subject = 'reading' then most_recent_completion_date end) as reading_completion_date,
        max(case when subject = 'reading' then academic_risk end) as reading_academic_risk,
        max(case when subject = 'math' then most_recent_scale_score end) as math_scale_score,
        max(case when subject = 'math' then most_recent_relative_placement end) as math_relative_placement,
        max(case when subject = 'math' then most_recent_placement_ordinal end) as math_placement_ordinal,
        max(case when subject = 'math' then percent_progress_typical end) as math_percent_progress_typical,
        max(case when subject = 'math' then most_recent_completion_date end) as math_completion_date,
        max(case when subject = 'math' then academic_risk end) as math_academic_risk
    from mapped
    group by student_id, school_year

),

final as (

    select
        *,
        case greatest(
            case reading_academic_risk when 'high' then 3 when 'medium' then 2 when 'low' then 1 else 0 end,
            case math_academic_risk when 'high' then 3 when 'medium' then 2 when 'low' then 1 else 0 end
        )
            when 3 then 'high'
            when 2 then 'medium'
            when 1 then 'low'
            else 'unknown'
        end as academic_risk
    from pivoted

)

select * from final
