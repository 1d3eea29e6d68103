{#- docs block fct_attendance_student_year_rules -#}
{%- set threshold = var('chronic_absence_threshold', 0.10) -%}
{%- set min_days = var('chronic_min_days_enrolled', 31) | int -%}
{%- set recent_days = var('recent_window_instructional_days', 30) | int -%}
{%- set trend_band = var('attendance_trend_band_pct_points', 2) -%}

with

daily as (
    select * from {{ ref('fct_attendance_daily') }}
    where is_enrolled_day
),

tiers as (
    select * from {{ ref('attendance_tiers') }}
),

ordered as (
    select
        daily.*,
        row_number() over (
            partition by daily.student_id, daily.school_code, daily.school_year
            order by daily.calendar_date desc
        ) as days_from_latest
    from daily
),

totals as (
    select
        student_id,
        school_code,
        school_year,
        (array_agg(grade_level order by calendar_date desc))[1] as grade_level,
        min(calendar_date) as first_enrolled_date,
        max(calendar_date) as last_enrolled_date,
        count(*) as days_enrolled,
        count(*) filter (where is_present) as days_present,
        count(*) filter (where is_full_day_absent) as days_absent,
        count(*) filter (where is_excused) as days_absent_excused,
        count(*) filter (where is_unexcused) as days_absent_unexcused,
        count(*) filter (where is_suspended_out_of_school) as days_suspended_out_of_school,
        count(*) filter (where is_suspended_in_school) as days_suspended_in_school,
        count(*) filter (where is_independent_study) as days_independent_study,
        count(*) filter (where is_full_day_absent and attendance_category = 'independent_study_incomplete')
            as days_independent_study_incomplete,
        count(*) filter (where is_tardy) as days_tardy,
        count(*) filter (where is_absent and not is_full_day_absent) as days_partially_absent,
        sum(periods_absent) as periods_absent,
        count(*) filter (where days_from_latest <= {{ recent_days }}) as recent_days_enrolled,
        count(*) filter (where days_from_latest <= {{ recent_days }} and is_present) as recent_days_present
    from ordered
    group by student_id, school_code, school_year
),

rates as (
    select
        totals.*,
        round(100.0 * totals.days_present / totals.days_enrolled, 2) as attendance_rate,
        round(100.0 * totals.days_absent / totals.days_enrolled, 2) as absence_rate,
        round(100.0 * totals.recent_days_present / nullif(totals.recent_days_enrolled, 0), 2)
            as recent_attendance_rate,
        totals.days_enrolled >= {{ min_days }} as is_chronic_absence_eligible,
        -- exact comparison in numeric: absent / enrolled >= threshold  <=>  absent >= threshold * enrolled
        (
            totals.days_enrolled >= {{ min_days }}
            and totals.days_absent >= {{ threshold }}::numeric * totals.days_enrolled
        ) as is_chronically_absent
    from totals
),

tiered as (
    select
        rates.*,
        tiers.tier_rank as attendance_tier_rank,
        tiers.tier_name as attendance_tier,
        rates.recent_attendance_rate - rates.attendance_rate as recent_rate_change_pct_points
    from rates
    left join tiers
        on
            100.0 * rates.days_absent / rates.days_enrolled >= tiers.min_absence_pct
            and 100.0 * rates.days_absent / rates.days_enrolled < tiers.max_absence_pct
),

final as (
    select
        student_id::bigint as student_id,
        school_code::bigint as school_code,
        school_year::text as school_year,
        grade_level::integer as grade_level,
        first_enrolled_date::date as first_enrolled_date,
        last_enrolled_date::date as last_enrolled_date,
        days_enrolled::integer as days_enrolled,
        days_present::integer as days_present,
        days_absent::integer as days_absent,
        days_absent_excused::integer as days_absent_excused,
        days_absent_unexcused::integer as days_absent_unexcused,
        days_suspended_out_of_school::integer as days_suspended_out_of_school,
        days_suspended_in_school::integer as days_suspended_in_school,
        days_independent_study::integer as days_independent_study,
        days_independent_study_incomplete::integer as days_independent_study_incomplete,
        days_tardy::integer as days_tardy,
        days_partially_absent::integer as days_partially_absent,
        periods_absent::integer as periods_absent,
        attendance_rate::numeric(5, 2) as attendance_rate,
        absence_rate::numeric(5, 2) as absence_rate,
        is_chronic_absence_eligible::boolean as is_chronic_absence_eligible,
        is_chronically_absent::boolean as is_chronically_absent,
        attendance_tier_rank::integer as attendance_tier_rank,
        attendance_tier::text as attendance_tier,
        rank() over (
            partition by school_code, school_year, grade_level
            order by attendance_rate desc
        )::integer as attendance_rank_in_school_grade,
        recent_days_enrolled::integer as recent_days_enrolled,
        recent_attendance_rate::numeric(5, 2) as recent_attendance_rate,
        recent_rate_change_pct_points::numeric(6, 2) as recent_rate_change_pct_points,
        (
            case
                when recent_rate_change_pct_points is null then null
                when recent_rate_change_pct_points > {{ trend_band }} then 'improving'
                when recent_rate_change_pct_points < -{{ trend_band }} then 'declining'
                else 'stable'
            end
        )::text as attendance_trend
    from tiered
)

select * from final
