{#- freshly landed raw tables may have no statistics yet; a bad estimate there costs minutes -#}
{#- Unique keys lead with school and date, not student: a night's rows then land at the end of
    each school's range of the index instead of inside every student's, which by May dirtied the
    whole index every night (the write cost grew with the year). -#}
{#- Spark: a full table build (docs/scale.md, "What is portable") -#}
{{
    config(
        materialized=('table' if target.type == 'spark' else 'incremental'),
        post_hook='{{ refresh_statistics(this) }}',
        pre_hook=[
            "{{ refresh_statistics(source('aeries', 'attendance_days')) }}",
            "{{ refresh_statistics(source('aeries', 'attendance_periods')) }}",
        ],
        incremental_strategy='replace_changed_days',
        reprocess_loaded_at='loaded_at',
        reprocess_sources=['attendance_days', 'attendance_periods'],
        indexes=[
            {'columns': ['school_code', 'calendar_date', 'student_id'], 'unique': true},
            {'columns': ['calendar_date']},
            {'columns': ['loaded_at']},
        ],
    )
}}
{#- One row per student, school and day that carries any attendance record in Aeries: the
    all-day code and the period codes of the day, categorised. Source of the code snapshot.
    Incremental (strategy replace_changed_days, docs block attendance_incremental_rule): a run
    rebuilds the new dates and the student-days whose raw rows arrived or were removed since the
    newest load already here, so codes that disappeared from Aeries disappear here too. -#}
-- depends_on: {{ source('aeries', 'attendance_days') }}
-- depends_on: {{ source('aeries', 'attendance_periods') }}
-- depends_on: {{ source('aeries', 'attendance_removals') }}
with

days as (
    {{ attendance_reprocess_rows(ref('stg_aeries__attendance_days'), 'stg_days') }}
),

periods as (
    {{ attendance_reprocess_rows(ref('stg_aeries__attendance_periods'), 'stg_periods') }}
),

categories as (
    select * from {{ ref('int_attendance__code_categories') }}
),

period_rollup as (
    select
        periods.school_code,
        periods.student_id,
        periods.calendar_date,
        count(*) as periods_recorded,
        count(periods.attendance_code) as periods_coded,
        count(*) filter (where coalesce(categories.is_absence, periods.attendance_code is not null))
            as periods_absent,
        count(*) filter (where categories.is_excused) as periods_absent_excused,
        count(*) filter (where categories.is_tardy) as periods_tardy,
        count(*) filter (where periods.attendance_code is not null and categories.type_code is distinct from 6)
            as periods_event_coded,
        case
            when count(distinct categories.attendance_category) filter (where categories.is_absence) = 1
                then max(categories.attendance_category) filter (where categories.is_absence)
        end as periods_absence_category,
        {{ ordered_string_agg(
            "periods.period || ':' || coalesce(periods.attendance_code, '')", ',', 'periods.period'
        ) }} as period_codes,
        {%- for p in range(10) %}
            max(
                case
                    when periods.period = '{{ p }}'
                        then coalesce(
                            categories.attendance_category,
                            case when periods.attendance_code is null then 'present' else 'unexcused' end
                        )
                end
            ) as period_{{ p }}_status,
        {%- endfor %}
        max(periods.loaded_at) as loaded_at
    from periods
    left join categories
        on
            periods.school_code = categories.school_code
            and periods.attendance_code = categories.absence_code
    group by periods.school_code, periods.student_id, periods.calendar_date
),

joined as (
    select
        coalesce(days.school_code, period_rollup.school_code) as school_code,
        coalesce(days.student_id, period_rollup.student_id) as student_id,
        coalesce(days.calendar_date, period_rollup.calendar_date) as calendar_date,
        days.all_day_code,
        period_rollup.period_codes,
        coalesce(period_rollup.periods_recorded, 0) as periods_recorded,
        coalesce(period_rollup.periods_coded, 0) as periods_coded,
        coalesce(period_rollup.periods_absent, 0) as periods_absent,
        coalesce(period_rollup.periods_absent_excused, 0) as periods_absent_excused,
        coalesce(period_rollup.periods_tardy, 0) as periods_tardy,
        coalesce(period_rollup.periods_event_coded, 0) as periods_event_coded,
        period_rollup.periods_absence_category,
        {%- for p in range(10) %}
            period_rollup.period_{{ p }}_status,
        {%- endfor %}
        greatest(days.loaded_at, period_rollup.loaded_at) as loaded_at
    from days
    full outer join period_rollup
        on
            days.school_code = period_rollup.school_code
            and days.student_id = period_rollup.student_id
            and days.calendar_date = period_rollup.calendar_date
)

select
    joined.*,
    -- a code missing from the school's code table counts as an unexcused absence (and is flagged by a test)
    case
        when joined.all_day_code is null then null
        else coalesce(all_day.attendance_category, 'unexcused')
    end as all_day_category,
    -- false when the day holds nothing but Aeries' explicit Present mark (type 6, positive schools)
    (
        (joined.all_day_code is not null and all_day.type_code is distinct from 6)
        or joined.periods_event_coded > 0
    ) as has_attendance_event
from joined
left join categories as all_day
    on
        joined.school_code = all_day.school_code
        and joined.all_day_code = all_day.absence_code
