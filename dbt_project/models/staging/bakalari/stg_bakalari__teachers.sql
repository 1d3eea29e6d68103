with

source as (

    select * from {{ source('raw_bakalari', 'teachers') }}

),

renamed as (

    select
        ---------- ids
        nullif(trim(id_trimmed), '') as teacher_id,
        id as teacher_source_id,
        ---------- strings
        nullif(trim(abbrev), '') as teacher_abbrev,
        nullif(trim(name), '') as teacher_name,
        nullif(trim(email), '') as email,
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
