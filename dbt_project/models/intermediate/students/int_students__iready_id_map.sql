{#-
    Which SIS student an i-Ready `Student ID` belongs to. Districts load i-Ready with
    different ids: var('iready_student_id_sis_column') names the Aeries column the export
    carries (`student_id`, the permanent id, by default; or `state_student_id`).
-#}
{%- set sis_column = var('iready_student_id_sis_column', 'student_id') -%}
{%- if sis_column not in ['student_id', 'state_student_id'] -%}
    {{ exceptions.raise_compiler_error(
        "var iready_student_id_sis_column must be student_id or state_student_id, got " ~ sis_column
    ) }}
{%- endif -%}

with

students as (

    select * from {{ ref('stg_aeries__students') }}

),

final as (

    select
        cast({{ sis_column }} as {{ type_text() }}) as iready_student_id,
        min(student_id) as student_id,
        count(distinct student_id) as sis_students_count
    from students
    where {{ sis_column }} is not null
    group by cast({{ sis_column }} as {{ type_text() }})

)

select * from final
