{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        post_hook='{{ refresh_statistics(this) }}',
        indexes=[{'columns': ['correction_id'], 'unique': true}, {'columns': ['detected_at']}],
    )
}}
{#- docs block fct_attendance_corrections_rules. Incremental: a correction never changes once
    seen, so a build adds the versions the history recorded after the newest correction here,
    read with the whole history of their days only (the previous version and first_seen_at). -#}
{%- set since = none -%}
{%- if is_incremental() and execute -%}
    {%- set since = run_query("select max(detected_at)::text from " ~ this).rows[0][0] -%}
{%- endif %}

with

{% if since is not none %}
    new_days as (
        select distinct
            school_code,
            student_id,
            calendar_date
        from {{ ref('snp_attendance_codes') }}
        where dbt_valid_from > '{{ since }}'::timestamp
    ),

    history as (
        select snapshot_versions.*
        from {{ ref('snp_attendance_codes') }} as snapshot_versions
        inner join new_days
            on
                snapshot_versions.school_code = new_days.school_code
                and snapshot_versions.student_id = new_days.student_id
                and snapshot_versions.calendar_date = new_days.calendar_date
    ),
{% else %}
    history as (
        select * from {{ ref('snp_attendance_codes') }}
    ),
{% endif %}

instructional_days as (
    select * from {{ ref('int_attendance__instructional_days') }}
),

versions as (
    select
        school_code,
        student_id,
        calendar_date,
        all_day_code,
        period_codes,
        coalesce(dbt_is_deleted::text, 'False') = 'True' as is_deleted,
        dbt_valid_from,
        dbt_scd_id,
        lag(all_day_code) over by_day as previous_all_day_code,
        lag(period_codes) over by_day as previous_period_codes,
        lag(coalesce(dbt_is_deleted::text, 'False') = 'True') over by_day as previous_is_deleted,
        lag(dbt_valid_from) over by_day as previous_valid_from,
        min(dbt_valid_from) over (partition by school_code, student_id, calendar_date) as first_seen_at
    from history
    window by_day as (partition by school_code, student_id, calendar_date order by dbt_valid_from, dbt_updated_at)
),

changes as (
    select *
    from versions
    where
        previous_valid_from is not null
        and dbt_valid_from > '{{ since or "-infinity" }}'::timestamp
),

final as (
    select
        changes.dbt_scd_id::text as correction_id,
        changes.student_id::bigint as student_id,
        changes.school_code::bigint as school_code,
        changes.calendar_date::date as calendar_date,
        (case when changes.previous_is_deleted then null else changes.previous_all_day_code end)::text
            as old_all_day_code,
        (case when changes.is_deleted then null else changes.all_day_code end)::text as new_all_day_code,
        (case when changes.previous_is_deleted then null else changes.previous_period_codes end)::text
            as old_period_codes,
        (case when changes.is_deleted then null else changes.period_codes end)::text as new_period_codes,
        (
            case
                when changes.is_deleted then 'cleared'
                when changes.previous_is_deleted then 'reentered'
                else 'changed'
            end
        )::text as correction_type,
        changes.is_deleted::boolean as is_cleared,
        changes.first_seen_at::timestamp as first_seen_at,
        changes.previous_valid_from::timestamp as old_code_seen_at,
        changes.dbt_valid_from::timestamp as detected_at,
        instructional_days.correction_deadline::date as correction_deadline,
        (changes.dbt_valid_from::date <= instructional_days.correction_deadline)::boolean as is_within_window
    from changes
    left join instructional_days
        on
            changes.school_code = instructional_days.school_code
            and changes.calendar_date = instructional_days.calendar_date
)

select * from final
