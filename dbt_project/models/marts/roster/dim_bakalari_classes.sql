with

classes as (

    select * from {{ ref('stg_bakalari__classes') }}

),

groups as (

    select * from {{ ref('stg_bakalari__groups') }}

),

students as (

    select * from {{ ref('stg_bakalari__students') }}

),

deduplicated as (

    {#- the same class can come back with different padding: one row per trimmed id,
        the live version first, then the latest change #}
    select distinct on (class_id) *
    from classes
    where class_id is not null
    order by class_id asc, is_deleted asc, updated_at desc

),

group_counts as (

    select
        class_id,
        count(distinct group_id) as group_count
    from groups
    where not is_deleted
    group by class_id

),

student_counts as (

    select
        class_id,
        count(distinct student_id) as student_count
    from students
    where not is_deleted
    group by class_id

),

final as (

    select
        deduplicated.class_id,
        deduplicated.class_abbrev,
        deduplicated.class_name,
        cast(coalesce(group_counts.group_count, 0) as integer) as group_count,
        cast(coalesce(student_counts.student_count, 0) as integer) as student_count,
        not deduplicated.is_deleted as is_active,
        deduplicated.first_seen_at,
        deduplicated.deleted_at
    from deduplicated
    left join group_counts
        on deduplicated.class_id = group_counts.class_id
    left join student_counts
        on deduplicated.class_id = student_counts.class_id

)

select * from final
