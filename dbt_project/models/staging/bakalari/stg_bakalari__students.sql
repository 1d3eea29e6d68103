with

source as (

    select * from {{ source('raw_bakalari', 'students') }}

),

renamed as (

    select
        ---------- ids
        nullif(trim(id_trimmed), '') as student_id,
        id as student_source_id,
        nullif(trim(class_id_trimmed), '') as class_id,
        ---------- strings
        nullif(trim(first_name), '') as first_name,
        nullif(trim(middle_name), '') as middle_name,
        nullif(trim(last_name), '') as last_name,
        nullif(trim(display_name), '') as display_name,
        nullif(trim(registration_number), '') as registration_number,
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
