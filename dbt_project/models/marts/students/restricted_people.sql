{{ config(schema='restricted', tags=['pii']) }}
{#-
    RESTRICTED: the one model with personal fields (names, birth date, gender, state id,
    e-mail, registration number) of SIS students and Bakaláři teachers and students. Every
    other mart is free of them and joins here on its id when an analyst needs a name. Built
    in the `restricted` schema so access can be granted separately. Built from the sources the
    deployment has (macro source_enabled): Aeries students, Bakaláři teachers and students.
-#}
{%- set has_aeries = source_enabled('aeries') -%}
{%- set has_bakalari = source_enabled('bakalari') %}
with

{% if has_aeries -%}
    sis_students as (

        select * from {{ ref('stg_aeries__students') }}

    ),

    sis as (

        select distinct on (student_id)
            'sis_student:' || student_id as person_id,
            'aeries' as source_system,
            'student' as person_type,
            cast(student_id as text) as source_person_id,
            first_name,
            cast(null as text) as middle_name,
            last_name,
            cast(null as text) as display_name,
            birth_date,
            gender,
            state_student_id,
            cast(null as text) as email,
            cast(null as text) as registration_number
        from sis_students
        order by student_id asc, loaded_at desc

    ),

{% endif -%}
{% if has_bakalari -%}
    bakalari_teachers as (

        select * from {{ ref('stg_bakalari__teachers') }}

    ),

    bakalari_students as (

        select * from {{ ref('stg_bakalari__students') }}

    ),

    teachers as (

        select distinct on (teacher_id)
            'teacher:' || teacher_id as person_id,
            'bakalari' as source_system,
            'teacher' as person_type,
            teacher_id as source_person_id,
            cast(null as text) as first_name,
            cast(null as text) as middle_name,
            cast(null as text) as last_name,
            teacher_name as display_name,
            cast(null as date) as birth_date,
            cast(null as text) as gender,
            cast(null as text) as state_student_id,
            email,
            cast(null as text) as registration_number
        from bakalari_teachers
        where teacher_id is not null
        order by teacher_id asc, is_deleted asc, updated_at desc

    ),

    students as (

        select distinct on (student_id)
            'student:' || student_id as person_id,
            'bakalari' as source_system,
            'student' as person_type,
            student_id as source_person_id,
            first_name,
            middle_name,
            last_name,
            display_name,
            cast(null as date) as birth_date,
            cast(null as text) as gender,
            cast(null as text) as state_student_id,
            cast(null as text) as email,
            registration_number
        from bakalari_students
        where student_id is not null
        order by student_id asc, is_deleted asc, updated_at desc

    ),

{% endif -%}
no_one as (

    {#- the shape of the table when the deployment has none of the sources above #}
    select
        cast(null as text) as person_id,
        cast(null as text) as source_system,
        cast(null as text) as person_type,
        cast(null as text) as source_person_id,
        cast(null as text) as first_name,
        cast(null as text) as middle_name,
        cast(null as text) as last_name,
        cast(null as text) as display_name,
        cast(null as date) as birth_date,
        cast(null as text) as gender,
        cast(null as text) as state_student_id,
        cast(null as text) as email,
        cast(null as text) as registration_number
    where false

),

final as (

    select * from no_one
    {%- if has_aeries %}
        union all
        select * from sis
    {%- endif %}
    {%- if has_bakalari %}
        union all
        select * from teachers
        union all
        select * from students
    {%- endif %}

)

select * from final
