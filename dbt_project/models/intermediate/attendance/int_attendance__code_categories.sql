{{
    config(
        pre_hook="{{ refresh_statistics(source('aeries', 'absence_codes')) }}",
        post_hook='{{ refresh_statistics(this) }}',
    )
}}
-- depends_on: {{ source('aeries', 'absence_codes') }}
{# Category of every Aeries absence code: a district override when one exists, else derived
    from Aeries' own flags (docs block attendance_code_categories_rule). -#}
with

codes as (
    select * from {{ ref('stg_aeries__absence_codes') }}
),

overrides as (
    select * from {{ ref('attendance_code_category_overrides') }}
),

categories as (
    select * from {{ ref('attendance_code_categories') }}
),

derived as (
    select
        codes.school_code,
        codes.absence_code,
        codes.code_title,
        codes.type_code,
        codes.type_description,
        codes.counts_for_ada,
        case
            when codes.is_temporarily_not_enrolled then 'not_enrolled'
            when codes.is_suspension and codes.type_code in (1, 2, 3) then 'suspension_out_of_school'
            when codes.is_suspension then 'suspension_in_school'
            when codes.independent_study_code is not null and codes.counts_for_ada then 'independent_study'
            when codes.independent_study_code is not null then 'independent_study_incomplete'
            when codes.type_code = 2 then 'excused'
            when codes.type_code in (1, 3) then 'unexcused'
            when codes.type_code in (5, 8, 9) then 'tardy'
            when codes.type_code in (4, 6) then 'present'
            else 'unexcused'
        end as derived_category
    from codes
),

resolved as (
    select
        derived.school_code,
        derived.absence_code,
        derived.code_title,
        derived.type_code,
        derived.type_description,
        derived.counts_for_ada,
        derived.derived_category,
        coalesce(school_override.attendance_category, district_override.attendance_category) is not null
            as is_overridden,
        coalesce(
            school_override.attendance_category,
            district_override.attendance_category,
            derived.derived_category
        ) as attendance_category
    from derived
    left join overrides as school_override
        on
            derived.school_code = school_override.school_code
            and derived.absence_code = school_override.absence_code
    left join overrides as district_override
        on
            derived.absence_code = district_override.absence_code
            and district_override.school_code is null
)

select
    resolved.school_code,
    resolved.absence_code,
    resolved.code_title,
    resolved.type_code,
    resolved.type_description,
    resolved.counts_for_ada,
    resolved.derived_category,
    resolved.is_overridden,
    resolved.attendance_category,
    categories.is_absence,
    categories.is_excused,
    categories.is_unexcused,
    categories.is_tardy,
    categories.is_suspension,
    categories.is_out_of_school_suspension,
    categories.is_independent_study,
    categories.is_enrolled_day
from resolved
inner join categories
    on resolved.attendance_category = categories.attendance_category
