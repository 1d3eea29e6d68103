{#-
    Person-to-class/group memberships with history: one row per version of a membership in
    snap_bakalari_enrollments (valid_from / valid_to). The current roster is
    `where is_current`.
-#}
with

enrollment_history as (

    select * from {{ ref('snap_bakalari_enrollments') }}

),

final as (

    select
        dbt_scd_id as enrollment_version_id,
        id as enrollment_id,
        'student:' || nullif(trim(student_id_trimmed), '') as person_id,
        nullif(trim(enrollment_type), '') as enrollment_type,
        nullif(trim(class_id_trimmed), '') as class_id,
        nullif(trim(group_id_trimmed), '') as group_id,
        coalesce(is_deleted, false) as is_deleted,
        dbt_valid_to = cast('9999-12-31' as timestamp) and not coalesce(is_deleted, false) as is_current,
        dbt_valid_from as valid_from,
        dbt_valid_to as valid_to
    from enrollment_history

)

select * from final
