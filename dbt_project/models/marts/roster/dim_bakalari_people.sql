{#-
    Teachers and students of the Bakaláři school in one dimension, without personal fields
    (names, e-mails, registration numbers live only in restricted_people).
-#}
with

teachers as (

    select * from {{ ref('stg_bakalari__teachers') }}

),

students as (

    select * from {{ ref('stg_bakalari__students') }}

),

student_history as (

    select * from {{ ref('snap_bakalari_students') }}

),

teachers_deduplicated as (

    select distinct on (teacher_id) *
    from teachers
    where teacher_id is not null
    order by teacher_id asc, is_deleted asc, updated_at desc

),

students_deduplicated as (

    select distinct on (student_id) *
    from students
    where student_id is not null
    order by student_id asc, is_deleted asc, updated_at desc

),

class_history as (

    select
        nullif(trim(class_id_trimmed), '') as class_id,
        nullif(trim(id_trimmed), '') as student_id,
        dbt_valid_from
    from student_history

),

class_changes as (

    select
        student_id,
        count(distinct class_id) as classes_count
    from class_history
    group by student_id

),

people as (

    select
        'teacher' as person_type,
        teacher_id as source_person_id,
        cast(null as text) as class_id,
        teacher_abbrev,
        email is not null as has_email,
        is_deleted,
        first_seen_at,
        deleted_at,
        cast(null as bigint) as classes_count
    from teachers_deduplicated

    union all

    select
        'student' as person_type,
        students_deduplicated.student_id as source_person_id,
        students_deduplicated.class_id,
        cast(null as text) as teacher_abbrev,
        false as has_email,
        students_deduplicated.is_deleted,
        students_deduplicated.first_seen_at,
        students_deduplicated.deleted_at,
        coalesce(class_changes.classes_count, 1) as classes_count
    from students_deduplicated
    left join class_changes
        on students_deduplicated.student_id = class_changes.student_id

),

final as (

    select
        person_type || ':' || source_person_id as person_id,
        person_type,
        source_person_id,
        class_id,
        teacher_abbrev,
        has_email,
        cast(classes_count as integer) as classes_count,
        not is_deleted as is_active,
        first_seen_at,
        deleted_at
    from people

)

select * from final
