with

subjects as (

    select * from {{ ref('stg_bakalari__subjects') }}

),

deduplicated as (

    select distinct on (subject_id) *
    from subjects
    where subject_id is not null
    order by subject_id asc, is_deleted asc, updated_at desc

),

final as (

    select
        subject_id,
        subject_abbrev,
        subject_name,
        not is_deleted as is_active,
        first_seen_at,
        deleted_at
    from deduplicated

)

select * from final
