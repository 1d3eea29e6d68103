{#-
    A table on Postgres, not a view: the raw rows are deduplicated once per build here rather than
    by every model and test that reads them (on the large workload each read sorted the whole
    year's raw rows again). Incremental like the attendance models it feeds (strategy
    replace_changed_days: the new dates, and the student-days whose raw rows arrived or were
    removed since its newest load). A view on Spark, where every build is a full one.
-#}
{{
    config(
        materialized='incremental' if target.type == 'postgres' else 'view',
        incremental_strategy='replace_changed_days',
        reprocess_loaded_at='loaded_at',
        reprocess_sources=['attendance_days'],
        post_hook='{{ refresh_statistics(this) }}',
        on_schema_change='fail',
        indexes=[
            {'columns': ['school_code', 'calendar_date', 'student_id'], 'unique': true},
            {'columns': ['calendar_date']},
            {'columns': ['loaded_at']},
        ],
    )
}}
-- depends_on: {{ source('aeries', 'attendance_removals') }}
with

source as (
    {{ attendance_reprocess_rows(source('aeries', 'attendance_days'), 'raw') }}
),

deduplicated as (
    {{ latest_by_key('source', ['school_code', 'student_id', 'calendar_date'], ['_loaded_at desc']) }}
),

renamed as (
    select
        ---------- ids
        school_code::bigint as school_code,
        student_id::bigint as student_id,
        calendar_date::date as calendar_date,
        ---------- text
        nullif(trim(all_day_attendance_code), '') as all_day_code,
        ---------- timestamps
        _loaded_at as loaded_at
    from deduplicated
)

select * from renamed
