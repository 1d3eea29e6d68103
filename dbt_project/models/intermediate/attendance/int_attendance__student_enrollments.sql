{#- Spark: a full table build (docs/scale.md, "What is portable") -#}
{{
    config(
        materialized=('table' if target.type == 'spark' else 'incremental'),
        incremental_strategy='delete+insert',
        unique_key=['school_code', 'student_id'],
        post_hook='{{ refresh_statistics(this) }}',
        on_schema_change='fail',
        indexes=[
            {'columns': ['school_code', 'student_id'], 'unique': true},
            {'columns': ['changed_at']},
        ],
    )
}}
{#- The enrollment spans of every student at a school, as one comparable text (enter date, last
    enrolled date, grade of each span), stamped with when it last changed: fct_attendance_daily
    rebuilds every day of a student whose spans changed since its newest build (a withdrawal
    recorded late, a grade corrected, a span added), at any date. A build compares the staged
    enrollment (one row per span, a few per student) with this table and writes the students
    whose spans differ; a student whose spans are all gone keeps a row with null spans. -#}
{%- set span = (
    "cast(enter_date as " ~ type_text() ~ ") || '|' || coalesce(cast(leave_date as " ~ type_text()
    ~ "), '') || '|' || coalesce(cast(grade_level as " ~ type_text() ~ "), '')"
) %}

with

spans as (
    select
        school_code,
        student_id,
        -- ISO dates first: ordering by the text orders the spans by enter date
        {{ ordered_string_agg(span, ',', span) }} as enrollment_spans
    from {{ ref('stg_aeries__enrollment') }}
    group by school_code, student_id
)

{%- if is_incremental() %}

    select
        coalesce(spans.school_code, previous.school_code)::bigint as school_code,
        coalesce(spans.student_id, previous.student_id)::bigint as student_id,
        spans.enrollment_spans::{{ type_text() }} as enrollment_spans,
        {{ dbt.current_timestamp() }}::{{ type_instant() }} as changed_at
    from spans
    full outer join {{ this }} as previous
        on
            spans.school_code = previous.school_code
            and spans.student_id = previous.student_id
    where spans.enrollment_spans is distinct from previous.enrollment_spans
{%- else %}

    select
        school_code::bigint as school_code,
        student_id::bigint as student_id,
        enrollment_spans::{{ type_text() }} as enrollment_spans,
        {{ dbt.current_timestamp() }}::{{ type_instant() }} as changed_at
    from spans
{%- endif %}
