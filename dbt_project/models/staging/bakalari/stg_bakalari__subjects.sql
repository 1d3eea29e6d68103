with

source as (

    select * from {{ source('raw_bakalari', 'subjects') }}

),

renamed as (

    select
        ---------- ids
        nullif(trim(id_trimmed), '') as subject_id,
        id as subject_source_id,
        ---------- strings
        nullif(trim(abbrev), '') as subject_abbrev,
        nullif(trim(name), '') as subject_name,
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
