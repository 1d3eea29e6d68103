with

source as (

    select * from {{ source('raw_bakalari', 'classes') }}

),

renamed as (

    select
        ---------- ids
        nullif(trim(id_trimmed), '') as class_id,
        id as class_source_id,
        ---------- strings
        nullif(trim(abbrev), '') as class_abbrev,
        nullif(trim(name), '') as class_name,
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
