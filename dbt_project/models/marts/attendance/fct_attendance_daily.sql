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
        reprocess_sources=['attendance_days', 'attendance_periods'],
        reprocess_correction_window=true,
        reprocess_changed_students=true,
        on_schema_change='fail',
        indexes=[
            {'columns': ['school_code', 'calendar_date', 'student_id'], 'unique': true},
            {'columns': ['calendar_date']},
            {'columns': ['source_loaded_at']},
            {'columns': ['built_at']},
        ],
    )
}}
{#- docs block fct_attendance_daily_rules -#}
-- depends_on: {{ ref('int_attendance__instructional_days') }}
-- depends_on: {{ source('aeries', 'attendance_days') }}
-- depends_on: {{ source('aeries', 'attendance_periods') }}
-- depends_on: {{ source('aeries', 'attendance_removals') }}
-- depends_on: {{ ref('int_attendance__student_enrollments') }}
{% set min_periods = var('attendance_min_scheduled_periods', 6) | int %}

{%- set spine_columns = [
    'student_id', 'school_code', 'calendar_date', 'school_year', 'school_day_number', 'grade_level',
    'correction_deadline', 'can_be_corrected', 'is_negative_attendance', 'is_period_attendance',
] %}

with

-- a corrected day keeps its spine: its columns are read back from this table
spine as (
    {{ attendance_reprocess_rows(
        ref('int_attendance__student_days'), 'student_days',
        keys_relation=this if is_incremental() else none,
        columns='student_days.' ~ spine_columns | join(', student_days.'),
    ) }}
),

day_codes as (
    {{ attendance_reprocess_rows(ref('int_attendance__day_codes'), 'day_codes') }}
),

categories as (
    select * from {{ ref('attendance_code_categories') }}
),

student_schedules as (
    -- the schedule length of the whole year, kept by its own incremental model
    select * from {{ ref('int_attendance__student_schedules') }}
),

joined as (
    select
        spine.student_id,
        spine.school_code,
        spine.calendar_date,
        spine.school_year,
        spine.school_day_number,
        spine.grade_level,
        spine.is_negative_attendance,
        spine.is_period_attendance,
        spine.correction_deadline,
        spine.can_be_corrected,
        day_codes.all_day_code,
        day_codes.all_day_category,
        day_codes.period_codes,
        day_codes.periods_absence_category,
        coalesce(day_codes.periods_absent, 0) as periods_absent,
        coalesce(day_codes.periods_tardy, 0) as periods_tardy,
        {%- for p in range(10) %}
            day_codes.period_{{ p }}_status,
        {%- endfor %}
        day_codes.loaded_at as source_loaded_at,
        case
            when spine.is_period_attendance
                then greatest(
                    coalesce(day_codes.periods_recorded, 0),
                    coalesce(student_schedules.max_periods_recorded, 0),
                    case when spine.is_negative_attendance then {{ min_periods }} else 0 end
                )
        end as periods_scheduled
    from spine
    left join day_codes
        on
            spine.school_code = day_codes.school_code
            and spine.student_id = day_codes.student_id
            and spine.calendar_date = day_codes.calendar_date
    left join student_schedules
        on
            spine.school_code = student_schedules.school_code
            and spine.student_id = student_schedules.student_id
),

classified as (
    select
        joined.*,
        case
            -- the all-day code decides the day when there is one
            when joined.all_day_category is not null then joined.all_day_category
            -- otherwise every scheduled period absent makes a full-day absence
            when
                joined.is_period_attendance
                and joined.periods_absent > 0
                and joined.periods_absent >= joined.periods_scheduled
                then coalesce(joined.periods_absence_category, 'unexcused')
            when joined.periods_absent > 0 then 'partial_absence'
            when joined.periods_tardy > 0 then 'tardy'
            else 'present'
        end as attendance_category
    from joined
),

flagged as (
    select
        classified.*,
        coalesce(categories.is_enrolled_day, true) as is_enrolled_day,
        coalesce(categories.is_absence, false) as is_full_day_absent,
        coalesce(categories.is_suspension, false) as is_suspended,
        coalesce(categories.is_out_of_school_suspension, false) as is_suspended_out_of_school,
        coalesce(categories.is_suspension and not categories.is_out_of_school_suspension, false)
            as is_suspended_in_school,
        coalesce(categories.is_independent_study, false) as is_independent_study
    from classified
    left join categories
        on classified.attendance_category = categories.attendance_category
),

final as (
    select
        student_id::bigint as student_id,
        school_code::bigint as school_code,
        calendar_date::date as calendar_date,
        school_year::{{ type_text() }} as school_year,
        school_day_number::integer as school_day_number,
        grade_level::integer as grade_level,
        is_negative_attendance::boolean as is_negative_attendance,
        is_period_attendance::boolean as is_period_attendance,
        all_day_code::{{ type_text() }} as all_day_code,
        period_codes::{{ type_text() }} as period_codes,
        attendance_category::{{ type_text() }} as attendance_category,
        is_enrolled_day::boolean as is_enrolled_day,
        (is_enrolled_day and not is_full_day_absent)::boolean as is_present,
        (is_enrolled_day and (is_full_day_absent or periods_absent > 0))::boolean as is_absent,
        (is_enrolled_day and is_full_day_absent)::boolean as is_full_day_absent,
        (is_full_day_absent and attendance_category = 'excused')::boolean as is_excused,
        (is_full_day_absent and attendance_category = 'unexcused')::boolean as is_unexcused,
        (is_enrolled_day and (attendance_category = 'tardy' or periods_tardy > 0))::boolean as is_tardy,
        is_suspended::boolean as is_suspended,
        is_suspended_out_of_school::boolean as is_suspended_out_of_school,
        is_suspended_in_school::boolean as is_suspended_in_school,
        is_independent_study::boolean as is_independent_study,
        periods_scheduled::integer as periods_scheduled,
        periods_absent::integer as periods_absent,
        periods_tardy::integer as periods_tardy,
        {%- for p in range(10) %}
            period_{{ p }}_status::{{ type_text() }} as period_{{ p }}_status,
        {%- endfor %}
        (
            case
                when not is_enrolled_day then null
                when is_full_day_absent then 0
                when periods_scheduled > 0
                    then round(
                        100.0 * (periods_scheduled - least(periods_absent, periods_scheduled)) / periods_scheduled, 2
                    )
                else 100
            end
        )::numeric(5, 2) as daily_attendance_pct,
        correction_deadline::date as correction_deadline,
        can_be_corrected::boolean as can_be_corrected,
        source_loaded_at::{{ type_instant() }} as source_loaded_at,
        -- what this build rebuilt, for int_attendance__student_months (incremental on top of this)
        {{ attendance_daily_built_at() }}::{{ type_instant() }} as built_at,
        {{ attendance_reprocess_plan()['from'] }}::date as reprocessed_from
    from flagged
)

select * from final
