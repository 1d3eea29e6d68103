with

source as (

    select * from {{ source('raw_bakalari', 'enrollments') }}

),

renamed as (

    select
        ---------- ids
        id as enrollment_id,
        nullif(trim(student_id_trimmed), '') as student_id,
        nullif(trim(class_id_trimmed), '') as class_id,
        nullif(trim(group_id_trimmed), '') as group_id,
        ---------- strings
        nullif(trim(enrollment_type), '') as enrollment_type,
        ---------- booleans
        coalesce(is_deleted, false) as is_deleted,
        ---------- timestamps
        deleted_at,
        first_seen_at,
        updated_at,
        _loaded_at as loaded_at
    from source

)

select * from renamed
