with

source as (
    select * from {{ source('aeries', 'absence_codes') }}
),

deduplicated as (
    {{ latest_by_key('source', ['school_code', 'trim(absence_code)'], ['_loaded_at desc']) }}
),

renamed as (
    select
        ---------- ids
        school_code::bigint as school_code,
        trim(absence_code) as absence_code,
        ---------- text
        trim(title) as code_title,
        trim(abbreviation) as code_abbreviation,
        trim(type_description) as type_description,
        nullif(trim(independent_study_code), '') as independent_study_code,
        ---------- numerics
        type_code::integer as type_code,
        ---------- booleans
        coalesce(counts_for_ada, false) as counts_for_ada,
        coalesce(is_suspension, false) as is_suspension,
        coalesce(is_temporarily_not_enrolled, false) as is_temporarily_not_enrolled,
        ---------- timestamps
        _loaded_at as loaded_at
    from deduplicated
)

select * from renamed
where absence_code <> ''
