with

source as (

    select * from {{ source('raw_bakalari', 'groups') }}

),

renamed as (

    select
        ---------- ids
        nullif(trim(id_trimmed), '') as group_id,
        id as group_source_id,
        nullif(trim(class_id_trimmed), '') as class_id,
        ---------- strings
        nullif(trim(abbrev), '') as group_abbrev,
        nullif(trim(name), '') as group_name,
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
