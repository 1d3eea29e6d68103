{#-
    Exception list: i-Ready students whose `Student ID` matches no SIS student (tested before
    enrolment, typos, students of other districts). Their diagnostics stay in the i-Ready
    facts but cannot reach the student summary. A warning test reports the count.
-#}
with

diagnostics as (

    select * from {{ ref('fct_iready_diagnostics') }}

),

id_map as (

    select * from {{ ref('int_students__iready_id_map') }}

),

final as (

    select
        diagnostics.student_id as iready_student_id,
        (array_agg(diagnostics.school_name order by diagnostics.completion_date desc))[1] as latest_school_name,
        (array_agg(diagnostics.grade_level order by diagnostics.completion_date desc))[1] as latest_grade_level,
        string_agg(distinct diagnostics.school_year, ', ' order by diagnostics.school_year) as school_years,
        cast(count(*) as integer) as diagnostics_count,
        min(diagnostics.completion_date) as first_completion_date,
        max(diagnostics.completion_date) as last_completion_date
    from diagnostics
    left join id_map
        on diagnostics.student_id = id_map.iready_student_id
    where id_map.iready_student_id is null
    group by diagnostics.student_id

)

select * from final
