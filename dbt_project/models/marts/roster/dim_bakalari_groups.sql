with

groups as (

    select * from {{ ref('stg_bakalari__groups') }}

),

classes as (

    select * from {{ ref('dim_bakalari_classes') }}

),

enrollments as (

    select * from {{ ref('stg_bakalari__enrollments') }}

),

deduplicated as (

    select distinct on (group_id) *
    from groups
    where group_id is not null
    order by group_id asc, is_deleted asc, updated_at desc

),

member_counts as (

    select
        group_id,
        count(distinct student_id) as student_count
    from enrollments
    where enrollment_type = 'group' and not is_deleted
    group by group_id

),

final as (

    select
        deduplicated.group_id,
        deduplicated.class_id,
        deduplicated.group_abbrev,
        deduplicated.group_name,
        coalesce(deduplicated.group_abbrev = classes.class_abbrev, false) as is_whole_class,
        cast(coalesce(member_counts.student_count, 0) as integer) as student_count,
        not deduplicated.is_deleted as is_active,
        deduplicated.first_seen_at,
        deduplicated.deleted_at
    from deduplicated
    left join classes
        on deduplicated.class_id = classes.class_id
    left join member_counts
        on deduplicated.group_id = member_counts.group_id

)

select * from final
