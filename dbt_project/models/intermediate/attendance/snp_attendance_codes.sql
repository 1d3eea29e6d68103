{#- The SCD2 history of the coded days (docs block attendance_code_history_rule). Once a dbt
    snapshot with the check strategy, which compared every coded day of the year each night; now
    an incremental model over the same table and columns (existing history carries on) that
    compares only the new dates and the student-days whose raw rows changed since the last build
    (attendance_reprocess_plan). Never rebuilt by
    --full-refresh: the history is the only copy. -#}
{{
    config(
        materialized='incremental',
        schema='snapshots',
        full_refresh=false,
        incremental_strategy='close_and_append_versions',
        on_schema_change='append_new_columns',
        reprocess_loaded_at='source_loaded_at',
        reprocess_sources=['attendance_days', 'attendance_periods'],
        post_hook='{{ refresh_statistics(this) }}',
        indexes=[
            {'columns': ['school_code', 'student_id', 'calendar_date']},
            {'columns': ['calendar_date']},
            {'columns': ['source_loaded_at']},
            {'columns': ['dbt_valid_from']},
        ],
    )
}}
-- depends_on: {{ source('aeries', 'attendance_days') }}
-- depends_on: {{ source('aeries', 'attendance_periods') }}
-- depends_on: {{ source('aeries', 'attendance_removals') }}
{%- set version_time = attendance_version_time() %}

with

coded as (
    select
        coded_days.school_code,
        coded_days.student_id,
        coded_days.calendar_date,
        coded_days.all_day_code,
        coded_days.period_codes,
        coded_days.loaded_at
    from ({{ attendance_reprocess_rows(ref('int_attendance__coded_days'), 'coded_days') }}) as coded_days
),

{% if is_incremental() %}
    current_versions as (
        -- the open version of every day in the replaced dates
        select
            school_code,
            student_id,
            calendar_date,
            all_day_code,
            period_codes,
            coalesce(dbt_is_deleted, 'False') = 'True' as is_deleted
        from ({{ attendance_reprocess_rows(this, 'history') }}) as history
        where history.dbt_valid_to = '9999-12-31'::timestamp
    ),

    new_versions as (
        -- a new day, a changed code, or codes back after a clear
        select
            coded.school_code,
            coded.student_id,
            coded.calendar_date,
            coded.all_day_code,
            coded.period_codes,
            coded.loaded_at,
            'False' as dbt_is_deleted
        from coded
        left join current_versions
            on
                coded.school_code = current_versions.school_code
                and coded.student_id = current_versions.student_id
                and coded.calendar_date = current_versions.calendar_date
        where
            current_versions.school_code is null
            or current_versions.is_deleted
            or coded.all_day_code is distinct from current_versions.all_day_code
            or coded.period_codes is distinct from current_versions.period_codes

        union all

        -- a day whose codes disappeared: a deleted version keeps the last codes (dbt's hard_deletes: new_record)
        select
            current_versions.school_code,
            current_versions.student_id,
            current_versions.calendar_date,
            current_versions.all_day_code,
            current_versions.period_codes,
            null::timestamptz as loaded_at,
            'True' as dbt_is_deleted
        from current_versions
        left join coded
            on
                current_versions.school_code = coded.school_code
                and current_versions.student_id = coded.student_id
                and current_versions.calendar_date = coded.calendar_date
        where coded.school_code is null and not current_versions.is_deleted
    ),
{% else %}
    new_versions as (
        select
            coded.*,
            'False' as dbt_is_deleted
        from coded
    ),
{% endif %}

final as (
    select
        school_code::bigint as school_code,
        student_id::bigint as student_id,
        calendar_date::date as calendar_date,
        all_day_code::text as all_day_code,
        period_codes::text as period_codes,
        md5(
            school_code || '|' || student_id || '|' || calendar_date || '|' || {{ version_time }} || '|'
            || dbt_is_deleted
        )::text as dbt_scd_id,
        {{ version_time }} as dbt_updated_at,
        {{ version_time }} as dbt_valid_from,
        '9999-12-31'::timestamp as dbt_valid_to,
        dbt_is_deleted::text as dbt_is_deleted,
        loaded_at::timestamptz as source_loaded_at
    from new_versions
)

select * from final
