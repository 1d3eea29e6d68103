{#- Unique keys lead with school and date, not student: a night's rows then land at the end of
    each school's range of the index instead of inside every student's, which by May dirtied the
    whole index every night (the write cost grew with the year). -#}
{#- Spark: a full table build, no contract (docs/scale.md, "What is portable") -#}
{{
    config(
        materialized=('table' if target.type == 'spark' else 'incremental'),
        contract={'enforced': target.type != 'spark'},
        post_hook='{{ refresh_statistics(this) }}',
        incremental_strategy='replace_changed_days',
        reprocess_loaded_at='source_loaded_at',
        reprocess_sources=['attendance_periods'],
        reprocess_correction_window=true,
        on_schema_change='fail',
        indexes=[
            {'columns': ['school_code', 'calendar_date', 'student_id', 'period'], 'unique': true},
            {'columns': ['calendar_date']},
            {'columns': ['source_loaded_at']},
        ],
    )
}}
{#- docs block fct_attendance_periods_rules; incremental as fct_attendance_daily (new dates, changed student-days) -#}
-- depends_on: {{ ref('int_attendance__instructional_days') }}
-- depends_on: {{ source('aeries', 'attendance_periods') }}
-- depends_on: {{ source('aeries', 'attendance_removals') }}
with

periods as (
    select reprocessed.*
    from ({{ attendance_reprocess_rows(ref('stg_aeries__attendance_periods'), 'stg_periods') }}) as reprocessed
    where
        reprocessed.attendance_code is not null
        -- up to the as-of date, as the daily fact: a replayed earlier night drops the later days
        -- (kept, they would keep that night's correction flags), the next night rebuilds them
        and reprocessed.calendar_date <= {{ attendance_as_of_date() }}
),

categories as (
    select * from {{ ref('int_attendance__code_categories') }}
),

instructional_days as (
    select * from {{ ref('int_attendance__instructional_days') }}
),

final as (
    -- the explicit Aeries "Present" mark (type 6, positive-attendance schools) is not an event:
    -- negative schools leave those periods blank, so both kinds of school give the same rows
    select
        periods.student_id::bigint as student_id,
        periods.school_code::bigint as school_code,
        periods.calendar_date::date as calendar_date,
        periods.period::{{ type_text() }} as period,
        periods.section_number::bigint as section_number,
        periods.attendance_code::{{ type_text() }} as attendance_code,
        coalesce(categories.attendance_category, 'unexcused')::{{ type_text() }} as attendance_category,
        coalesce(categories.is_absence, true)::boolean as is_absent,
        coalesce(categories.is_excused, false)::boolean as is_excused,
        coalesce(categories.is_unexcused, categories.attendance_category is null)::boolean as is_unexcused,
        coalesce(categories.is_tardy, false)::boolean as is_tardy,
        coalesce(categories.is_suspension, false)::boolean as is_suspended,
        (categories.attendance_category is null)::boolean as is_unknown_code,
        coalesce(
            instructional_days.school_year, {{ attendance_school_year('periods.calendar_date') }}
        )::{{ type_text() }} as school_year,
        instructional_days.correction_deadline::date as correction_deadline,
        coalesce(instructional_days.can_be_corrected, false)::boolean as can_be_corrected,
        periods.loaded_at::{{ type_instant() }} as source_loaded_at
    from periods
    left join categories
        on
            periods.school_code = categories.school_code
            and periods.attendance_code = categories.absence_code
    left join instructional_days
        on
            periods.school_code = instructional_days.school_code
            and periods.calendar_date = instructional_days.calendar_date
    where categories.type_code is distinct from 6
)

select * from final
